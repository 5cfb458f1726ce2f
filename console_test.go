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
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The console's hub counts (<route>?ui=counts): numbers only, and only
// for a request whose subscribe grants cover every topic; anyone else gets
// the status a subscribe to "**" would get, and no number.
func TestUICounts(t *testing.T) {
	tc := startCaddy(t, `
http://127.0.0.1:{PORT} {
	sse /all {
		hub counts
		subscribe_allow **
		ui
	}
	sse /pieces {
		hub counts
		subscribe_allow * */**
		ui
	}
	sse /one-level {
		hub counts
		subscribe_allow *
		ui
	}
	sse /news {
		hub counts
		subscribe_allow news
		ui
	}
	sse /jwt {
		hub counts
		jwt {
			key `+jwtTestSecret+`
		}
		subscribe_allow public/**
		ui
	}
	sse /noui {
		hub counts
		subscribe_allow **
	}
}`)
	// Three streams on two distinct selectors; each is registered with the
	// hub once its opening line arrived.
	for _, topic := range []string{"news", "news", "logs/**"} {
		s := tc.SubscribeLines("/all?topic=" + topic)
		if line := s.Line(5 * time.Second); line != ":ok" {
			t.Fatalf("subscribe %s: first line %q", topic, line)
		}
	}
	everything := bearer(hsToken(t, jwt.MapClaims{"sub": "ops", "sse": sseClaim([]string{"**"}, nil)}))
	newsOnly := bearer(hsToken(t, jwt.MapClaims{"sub": "reader", "sse": sseClaim([]string{"news", "news/**"}, nil)}))
	for _, c := range []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"a grant of **", "/all", nil, 200},
		{"grants that cover every topic together", "/pieces", nil, 200},
		{"a grant of one level only", "/one-level", nil, 401},
		{"a grant of one topic", "/news", nil, 401},
		{"no token", "/jwt", nil, 401},
		{"a token granting some topics", "/jwt", newsOnly, 403},
		{"a token granting every topic", "/jwt", everything, 200},
		{"an invalid token", "/jwt", bearer("not-a-token"), 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := doAuth(t, "GET", tc.URL+c.path+"?ui=counts", "", "", c.header)
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
			if c.status != 200 {
				if strings.Contains(resp.Body, "subscribers") || strings.Contains(resp.Header.Get("Content-Type"), "json") {
					t.Errorf("a refused request got counts: %s", resp.Body)
				}
				if c.path == "/jwt" && c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", resp.Header.Get("WWW-Authenticate"))
				}
				if c.header == nil && !strings.Contains(resp.Body, "(**)") {
					t.Errorf("message %q, want it to say a grant of ** is needed", resp.Body)
				}
				return
			}
			if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", resp.Header)
			}
			// Counts and nothing else: no identities, no topics.
			var fields map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &fields); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if len(fields) != 2 || fields["subscribers"] != 3.0 || fields["topics"] != 2.0 {
				t.Errorf("counts %s, want exactly {\"subscribers\":3,\"topics\":2}", resp.Body)
			}
		})
	}

	// Without ui the route serves no counts: it is a subscribe without a topic.
	resp := doAuth(t, "GET", tc.URL+"/noui?ui=counts", "", "", nil)
	if resp.Status != http.StatusBadRequest || strings.Contains(resp.Body, "subscribers") {
		t.Errorf("counts without ui: status %d: %s", resp.Status, resp.Body)
	}
}
