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
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

const navigationAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

func getWith(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// An exact-path matcher (`sse /events`) must still reach every asset: they
// are addressed by query parameters.
func TestUIServesConsoleAndAssets(t *testing.T) {
	tc := startCaddy(t, `
http://127.0.0.1:{PORT} {
	sse /events {
		subscribe_allow **
		publish_allow **
		ui
	}
}`)
	for _, c := range []struct {
		query, accept, contentType, contains string
	}{
		{"", navigationAccept, "text/html; charset=utf-8", `src="?ui=console.js"`},
		{"?ui=console.html", "*/*", "text/html; charset=utf-8", "<!doctype html>"},
		{"?ui=console.css", "text/css,*/*;q=0.1", "text/css; charset=utf-8", ".event.level-error"},
		{"?ui=console.js", "*/*", "text/javascript; charset=utf-8", "textContent"},
		{"?ui=client.js", "*/*", "text/javascript; charset=utf-8", "export class SSEClient"},
		{"?client", "*/*", "text/javascript; charset=utf-8", "export class SSEClient"},
	} {
		resp, body := getWith(t, tc.URL+"/events"+c.query, "Accept", c.accept)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%q: status %d: %s", c.query, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != c.contentType {
			t.Errorf("%q: Content-Type %q, want %q", c.query, got, c.contentType)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != uiCSP {
			t.Errorf("%q: Content-Security-Policy %q", c.query, got)
		}
		for _, directive := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), directive) {
				t.Errorf("%q: CSP lacks %s", c.query, directive)
			}
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("ETag") == "" ||
			resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%q: headers %v", c.query, resp.Header)
		}
		if !strings.Contains(body, c.contains) {
			t.Errorf("%q: body lacks %q", c.query, c.contains)
		}
		// A revalidation with the ETag costs no body.
		again, _ := getWith(t, tc.URL+"/events"+c.query, "Accept", c.accept, "If-None-Match", resp.Header.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("%q: revalidation status %d, want 304", c.query, again.StatusCode)
		}
	}

	// The console page loads nothing from elsewhere and no inline code.
	_, page := getWith(t, tc.URL+"/events", "Accept", navigationAccept)
	for _, banned := range []string{"http://", "https://", "<script>", "style=", "onclick"} {
		if strings.Contains(page, banned) {
			t.Errorf("console page contains %q", banned)
		}
	}

	resp, body := getWith(t, tc.URL+"/events?ui=../module.go", "Accept", "*/*")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: status %d: %s", resp.StatusCode, body)
	}
	// A subscribe request is a subscribe request, whatever it accepts.
	s := tc.SubscribeLines("/events?topic=news", "Accept", navigationAccept)
	if line := s.Line(5 * time.Second); line != ":ok" {
		t.Errorf("subscribe with Accept text/html: first line %q", line)
	}
	// Without text/html and a topic, the usual 400.
	resp, _ = getWith(t, tc.URL+"/events", "Accept", "text/event-stream")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("EventSource without topic: status %d, want 400", resp.StatusCode)
	}
}

func TestUIOff(t *testing.T) {
	tc := startCaddy(t, `
http://127.0.0.1:{PORT} {
	sse /events {
		subscribe_allow **
	}
}`)
	for _, query := range []string{"", "?ui=console.js", "?ui=console.html"} {
		resp, body := getWith(t, tc.URL+"/events"+query, "Accept", navigationAccept)
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "<html") {
			t.Errorf("ui off, %q: status %d: %s", query, resp.StatusCode, body)
		}
	}
	// The client is for apps and is served either way.
	resp, _ := getWith(t, tc.URL+"/events?client")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("client with ui off: status %d, %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestUICaddyfile(t *testing.T) {
	for _, c := range []struct {
		input string
		ok    bool
	}{
		{"sse {\n\tui\n}", true},
		{"sse {\n\tui on\n}", false},
		{"sse {\n\tui\n\tui\n}", false},
		{"sse {\n\tui {\n\t}\n}", false},
	} {
		h := new(Handler)
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v, want ok=%v", c.input, err, c.ok)
			continue
		}
		if c.ok {
			b, _ := json.Marshal(h)
			if !strings.Contains(string(b), `"ui":true`) {
				t.Errorf("%q: JSON %s lacks \"ui\":true", c.input, b)
			}
		}
	}
}
