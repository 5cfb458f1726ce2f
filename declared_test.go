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
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestDeclaredStream: a route with topics serves new EventSource(url)
// with no query string; per-user topics come from the token's sub, and
// declaring is granting, with no subscribe_allow.
func TestDeclaredStream(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	route /api/notifications/stream {
		sse {
			hub declared
			topics users/{http.auth.user.id}/notifications
			jwt {
				key `+jwtTestSecret+`
				alg HS256
			}
		}
	}
	route /news {
		sse {
			hub declared
			topics news
		}
	}
	route /publish {
		sse {
			hub declared
			publish_allow **
		}
	}
}`)
	seven := tc.Subscribe("/api/notifications/stream?token=" + hsToken(t, jwt.MapClaims{"sub": "7"}))
	eight := tc.Subscribe("/api/notifications/stream", "Authorization", "Bearer "+hsToken(t, jwt.MapClaims{"sub": "8"}))
	news := tc.Subscribe("/news")
	waitSubscribers(t, "declared", 3)

	for7 := tc.PublishForm("/publish", "topic", "users/7/notifications", "data", "for 7")
	for8 := tc.PublishForm("/publish", "topic", "users/8/notifications", "data", "for 8")
	headline := tc.PublishForm("/publish", "topic", "news", "data", "headline")
	again7 := tc.PublishForm("/publish", "topic", "users/7/notifications", "data", "again for 7")
	expectEvent(t, seven, for7, "message", "for 7")
	expectEvent(t, seven, again7, "message", "again for 7") // and not user 8's in between
	expectEvent(t, eight, for8, "message", "for 8")
	expectEvent(t, news, headline, "message", "headline")

	// No user: the per-user stream expands to nothing, a 401 with the
	// route's Bearer challenge.
	status, _, body := doRequest(t, http.MethodGet, tc.URL+"/api/notifications/stream", "", "")
	if status != http.StatusUnauthorized {
		t.Fatalf("declared stream without a user: %d %s, want 401", status, body)
	}
	// A request may still name topics, against the route's grants: the
	// declared one is granted, another is not.
	if status, _, _ := doRequest(t, http.MethodGet, tc.URL+"/news?topic=sports", "", ""); status != http.StatusUnauthorized {
		t.Fatalf("naming an undeclared topic without grants: %d, want 401", status)
	}
}

// TestResumeQueryNames: the resume id also comes in the query parameter
// names of the common EventSource polyfill and of Mercure clients; the
// Last-Event-ID header wins.
func TestResumeQueryNames(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		hub resume-names
		subscribe_allow **
		publish_allow **
	}
}`)
	first := tc.PublishForm("/", "topic", "t", "data", "one")
	second := tc.PublishForm("/", "topic", "t", "data", "two")
	for _, name := range []string{"last_event_id", "lastEventId", "lastEventID"} {
		s := tc.Subscribe("/?topic=t&" + name + "=" + first)
		expectEvent(t, s, second, "message", "two")
		s.Close()
	}
	s := tc.Subscribe("/?topic=t&lastEventId=junk", "Last-Event-ID", first)
	expectEvent(t, s, second, "message", "two")
}

// TestTopicWithQueryCharacters: a topic holding '?' or '#', nearly always
// a URL built as …?topic=x?token=…, is a 400 that says to use '&'.
func TestTopicWithQueryCharacters(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		subscribe_allow **
		publish_allow **
	}
}`)
	for _, topic := range []string{"news?token=abc", "news%23top"} {
		status, _, body := doRequest(t, http.MethodGet, tc.URL+"/?topic="+topic, "", "")
		if status != http.StatusBadRequest || !strings.Contains(body, "separate query parameters with '&'") {
			t.Errorf("subscribe to %q: %d %q, want 400 saying to use '&'", topic, status, body)
		}
	}
	status, body := tc.Post("/", "application/x-www-form-urlencoded", "topic=a%3Fb&data=x")
	if status != http.StatusBadRequest || !strings.Contains(body, "separate query parameters with '&'") {
		t.Errorf("publish to a?b: %d %q, want 400 saying to use '&'", status, body)
	}
}

// TestJSONSentAsForm: curl -d '{…}' sends JSON as a form; the answer says
// which Content-Type to send, and nothing is stored.
func TestJSONSentAsForm(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		hub json-as-form
		subscribe_allow **
		publish_allow **
	}
}`)
	for _, body := range []string{`{"topic":"t","data":"x"}`, ` [{"topic":"t","data":"x"}]`} {
		status, answer := tc.Post("/", "application/x-www-form-urlencoded", body)
		if status != http.StatusUnsupportedMediaType || !strings.Contains(answer, "Content-Type: application/json") {
			t.Errorf("%s as a form: %d %q, want 415 naming application/json", body, status, answer)
		}
	}
	if st, _ := itHubStats("json-as-form"); st.Published != 0 {
		t.Fatalf("%d events stored", st.Published)
	}
}

// TestRouteWithoutGrantsWarns: a route with no grants, no topics and no
// jwt loads (it is safe) but says at WARN that it serves nothing.
func TestRouteWithoutGrantsWarns(t *testing.T) {
	global, logFile := warnLog(t)
	tc := startCaddy(t, global+`http://127.0.0.1:{PORT} {
	sse /nothing {
		hub nothing
	}
	sse /something {
		hub nothing
		subscribe_allow news
	}
}`)
	if status, _, _ := doRequest(t, http.MethodGet, tc.URL+"/nothing?topic=news", "", ""); status != http.StatusUnauthorized {
		t.Fatalf("a route without grants answered %d, want 401", status)
	}
	var warnings []string
	pollUntil(t, 5*time.Second, "the warning", func() bool {
		b, _ := os.ReadFile(logFile)
		warnings = nil
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "serves nothing") {
				warnings = append(warnings, line)
			}
		}
		return len(warnings) > 0
	})
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"level":"warn"`) {
		t.Fatalf("warnings %q, want one WARN line for the route without grants", warnings)
	}
}

// TestUnsetPlaceholderWarns: a grant whose placeholder nothing sets where
// the handler sits gets one WARN, the first time a request shows it,
// naming the grant, the placeholder and what to add; a route where
// basic_auth sets it, or whose jwt block may, says nothing.
func TestUnsetPlaceholderWarns(t *testing.T) {
	t.Setenv("SSE_TEST_UNSET_KEY", strings.Repeat("k", 32))
	global, logFile := warnLog(t)
	tc := startCaddy(t, global+`http://127.0.0.1:{PORT} {
	route /unset {
		sse {
			hub unset
			subscribe_allow news users/{http.auth.user.id}
		}
	}
	route /authed {
		basic_auth {
			`+itBasicAuthUsers(t)+`
		}
		sse {
			hub unset
			subscribe_allow users/{http.auth.user.id}
		}
	}
	route /jwt {
		sse {
			hub unset
			topics users/{http.auth.user.id}
			jwt {
				key {env.SSE_TEST_UNSET_KEY}
			}
		}
	}
}`)
	for range 2 {
		if status, _, _ := doRequest(t, http.MethodGet, tc.URL+"/unset?topic=users/x", "", ""); status != http.StatusUnauthorized {
			t.Fatalf("/unset answered %d, want 401", status)
		}
	}
	if status, _ := itGet(t, tc.URL+"/authed?topic=users/alice", "Authorization", basicAuthHeader("alice", "secret")); status != http.StatusOK {
		t.Fatalf("/authed answered %d, want 200", status)
	}
	if status, _, _ := doRequest(t, http.MethodGet, tc.URL+"/jwt", "", ""); status != http.StatusUnauthorized {
		t.Fatalf("/jwt without a token answered %d, want 401", status)
	}
	var warnings []map[string]any
	pollUntil(t, 5*time.Second, "the warning", func() bool {
		b, _ := os.ReadFile(logFile)
		warnings = nil
		for _, line := range strings.Split(string(b), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && strings.Contains(fmt.Sprint(entry["msg"]), "placeholder is not set") {
				warnings = append(warnings, entry)
			}
		}
		return len(warnings) > 0
	})
	if len(warnings) != 1 {
		t.Fatalf("warnings %v, want one for /unset", warnings)
	}
	w := warnings[0]
	if w["level"] != "warn" || w["grant"] != "users/{http.auth.user.id}" || w["placeholder"] != "{http.auth.user.id}" ||
		!strings.Contains(fmt.Sprint(w["add"]), "basic_auth") {
		t.Fatalf("warning %v, want level warn, the grant, its placeholder and basic_auth to add", w)
	}
}
