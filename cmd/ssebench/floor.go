// Copyright 2026 The caddy-sse Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package main

import (
	"io"
	"net/http"
	"net/http/pprof"

	"github.com/caddy-sse/caddy-sse/cmd/ssebench/internal/floor"
)

// newFloorServer is the floor: the bare hub of package floor on plain
// net/http, with what the suite compares beside it in Caddy: a trivial
// /plain response (Caddy's respond route) and the goroutine count
// (Caddy's admin endpoint).
func newFloorServer() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", floor.New())
	mux.HandleFunc("/plain", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
	return mux
}
