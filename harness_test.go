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

package caddysse

// The tests of this package use the shared test helpers under these
// short names: the WHATWG parser and the SSE clients of ssetest, and the
// in-process Caddy of caddytest.

import (
	"testing"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
)

type (
	parsedEvent = ssetest.Event
	sseParser   = ssetest.Parser
	sseStream   = ssetest.Stream
	lineStream  = ssetest.LineStream
	testCaddy   = caddytest.Caddy
)

var (
	newSSEParser   = ssetest.NewParser
	freePort       = ssetest.FreePort
	doRequest      = ssetest.DoRequest
	subscribeWith  = ssetest.SubscribeWith
	getStream      = ssetest.GetStream
	urlQueryEscape = ssetest.QueryEscape
	openLines      = ssetest.OpenLines
	startCaddy     = caddytest.Start
	adaptCaddyfile = caddytest.Adapt
	testStorage    = caddytest.Storage
	pollUntil      = ssetest.PollUntil
	skipOrFail     = ssetest.SkipOrFail
)

// eventPos reads an event id back through the memory hub of this process
// that gave it, for tests that check which number a hub gave an event:
// ids are opaque, and only their hub can read them.
func eventPos(t testing.TB, id string) (*hub.Hub, uint64) {
	t.Helper()
	for _, p := range pooledHubs() {
		if pos, ok := p.Log().ParseID(id); ok && pos.Major == 0 {
			return p.Hub, pos.Minor
		}
	}
	t.Fatalf("id %q is not an id of a hub of this process", id)
	return nil, 0
}
