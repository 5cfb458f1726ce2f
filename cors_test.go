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
	"slices"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub cors
		heartbeat off
		subscribe_allow news
		publish_allow news
		cors_origins https://app.example.com http://localhost:3000
	}
	sse /closed {
		hub cors
		heartbeat off
		subscribe_allow news
	}
}`)
	preflight := func(path, origin string) authResponse {
		return doAuth(t, http.MethodOptions, tc.URL+path, "", "", http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"authorization, content-type"},
		})
	}
	varyOrigin := func(h http.Header) bool {
		for _, v := range h.Values("Vary") {
			if slices.Contains(strings.Split(strings.ReplaceAll(v, " ", ""), ","), "Origin") {
				return true
			}
		}
		return false
	}

	t.Run("preflight from a listed origin", func(t *testing.T) {
		for _, origin := range []string{"https://app.example.com", "http://localhost:3000", "HTTPS://APP.example.com"} {
			resp := preflight("/events", origin)
			if resp.Status != http.StatusNoContent {
				t.Fatalf("%s: status %d, want 204: %s", origin, resp.Status, resp.Body)
			}
			h := resp.Header
			for name, want := range map[string]string{
				"Access-Control-Allow-Origin":      origin,
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods":     "GET, POST",
				"Access-Control-Allow-Headers":     "Authorization, Content-Type, Last-Event-ID, Idempotency-Key",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s: %s = %q, want %q", origin, name, got, want)
				}
			}
			if !varyOrigin(h) {
				t.Errorf("%s: Vary %q lacks Origin", origin, h.Values("Vary"))
			}
		}
	})
	t.Run("preflight from an unlisted origin", func(t *testing.T) {
		for _, path := range []string{"/events", "/closed"} {
			resp := preflight(path, "https://evil.example")
			if resp.Status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", path, resp.Status)
			}
			for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods"} {
				if v := resp.Header.Get(name); v != "" {
					t.Errorf("%s: %s = %q for an unlisted origin", path, name, v)
				}
			}
			if !varyOrigin(resp.Header) {
				t.Errorf("%s: Vary %q lacks Origin", path, resp.Header.Values("Vary"))
			}
		}
	})
	t.Run("stream and publish from a listed origin", func(t *testing.T) {
		resp := doAuth(t, http.MethodGet, tc.URL+"/events?topic=news", "", "", http.Header{"Origin": {"https://app.example.com"}})
		if resp.Status != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "true" || !varyOrigin(resp.Header) {
			t.Fatalf("stream: status %d, headers %v", resp.Status, resp.Header)
		}
		resp = doAuth(t, http.MethodPost, tc.URL+"/events", "application/x-www-form-urlencoded", "topic=news&data=x", http.Header{"Origin": {"https://app.example.com"}})
		if resp.Status != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("publish: status %d, headers %v", resp.Status, resp.Header)
		}
	})
	t.Run("stream from an unlisted origin is not reflected", func(t *testing.T) {
		resp := doAuth(t, http.MethodGet, tc.URL+"/events?topic=news", "", "", http.Header{"Origin": {"https://evil.example"}})
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Fatalf("Access-Control-Allow-Origin %q for an unlisted origin", v)
		}
		if !varyOrigin(resp.Header) {
			t.Errorf("Vary %q lacks Origin", resp.Header.Values("Vary"))
		}
	})
	t.Run("OPTIONS without a preflight", func(t *testing.T) {
		if resp := doAuth(t, http.MethodOptions, tc.URL+"/events", "", "", nil); resp.Status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d, want 405", resp.Status)
		}
	})
}
