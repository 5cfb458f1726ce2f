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

import (
	"net/http"
	"strings"
	"testing"
)

// The client's TypeScript declarations are served beside the module, with
// or without ui, and the module points to them for Deno; any other
// ?client value is a 404 that names the two there are.
func TestUIClientTypes(t *testing.T) {
	tc := startCaddy(t, `
http://127.0.0.1:{PORT} {
	sse /events {
		subscribe_allow **
	}
	sse /console {
		subscribe_allow **
		ui
	}
}`)
	for _, c := range []struct{ path, contentType, contains string }{
		{"/events?client", "text/javascript; charset=utf-8", "export class SSEClient"},
		{"/events?client=js", "text/javascript; charset=utf-8", "export class SSEClient"},
		{"/events?client=d.ts", "text/typescript; charset=utf-8", "export declare class SSEClient"},
		{"/console?client=d.ts", "text/typescript; charset=utf-8", "shared?: boolean | string;"},
		{"/console?ui=client.d.ts", "text/typescript; charset=utf-8", "export declare function subscribe"},
		{"/console?ui=client.js", "text/javascript; charset=utf-8", "export class SSEClient"},
	} {
		resp, body := getWith(t, tc.URL+c.path, "Accept", "*/*")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", c.path, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != c.contentType {
			t.Errorf("%s: Content-Type %q, want %q", c.path, got, c.contentType)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("ETag") == "" {
			t.Errorf("%s: headers %v", c.path, resp.Header)
		}
		if !strings.Contains(body, c.contains) {
			t.Errorf("%s: body lacks %q", c.path, c.contains)
		}
		types := resp.Header.Get("X-TypeScript-Types")
		if isJS := strings.HasPrefix(c.contentType, "text/javascript"); isJS && types != "?client=d.ts" || !isJS && types != "" {
			t.Errorf("%s: X-TypeScript-Types %q", c.path, types)
		}
	}
	for _, path := range []string{"/events?client=x", "/events?client=client.d.ts", "/events?client=../module.go"} {
		resp, body := getWith(t, tc.URL+path, "Accept", "*/*")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "?client=d.ts") {
			t.Errorf("%s: status %d: %s, want a 404 naming ?client=d.ts", path, resp.StatusCode, body)
		}
	}
	// Without ui, ?ui=client.d.ts is no asset: the usual 400.
	if resp, body := getWith(t, tc.URL+"/events?ui=client.d.ts", "Accept", "*/*"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("?ui=client.d.ts without ui: status %d: %s", resp.StatusCode, body)
	}
}
