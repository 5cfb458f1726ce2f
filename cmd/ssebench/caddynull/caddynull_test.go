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

package caddynull

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestServe provisions the handler and runs one subscribe and publish
// through it over loopback.
func TestServe(t *testing.T) {
	var h Handler
	if err := h.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = h.ServeHTTP(w, r, nil)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/?topic=a/*")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); line != ":ok\n" {
		t.Fatalf("first line %q", line)
	}
	pub, err := http.PostForm(srv.URL+"/", url.Values{"topic": {"a/b"}, "data": {"hello"}})
	if err != nil {
		t.Fatal(err)
	}
	pub.Body.Close()
	var got []string
	for len(got) < 4 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, line)
	}
	if want := "\nid: 1\ntopic: a/b\ndata: hello\n"; strings.Join(got, "") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, ""), want)
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("ssebench_null")); err != nil {
		t.Fatal(err)
	}
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("ssebench_null extra")); err == nil {
		t.Fatal("no error for an argument")
	}
}
