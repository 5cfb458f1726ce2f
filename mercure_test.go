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
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
)

// mercureSecret is the key of Mercure's docs' examples.
const mercureSecret = "!ChangeThisMercureHubJWTSecretKey!"

// mercureCaddyfile has a Mercure route and a native route on one hub.
const mercureCaddyfile = `:{PORT} {
	route /.well-known/mercure {
		sse {
			mercure
			publisher_jwt {env.SSE_TEST_MERCURE_SECRET} HS256
			subscriber_jwt {env.SSE_TEST_MERCURE_SECRET}
			anonymous
			max_body_size 2048
		}
	}
	route /events {
		sse {
			subscribe_allow **
			publish_allow **
		}
	}
}
`

const mercurePath = "/.well-known/mercure"

func startMercure(t *testing.T) *caddytest.Caddy {
	t.Helper()
	t.Setenv("SSE_TEST_MERCURE_SECRET", mercureSecret)
	return caddytest.Start(t, mercureCaddyfile)
}

// mercureJWT signs Mercure claims with the docs' key.
func mercureJWT(t *testing.T, key string, claims map[string]any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"mercure": claims}).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mercurePublish posts a form (name, value, ...) with a bearer token and
// returns status and body.
func mercurePublish(tc *caddytest.Caddy, token string, fields ...string) (int, string) {
	form := url.Values{}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Add(fields[i], fields[i+1])
	}
	var hdr []string
	if token != "" {
		hdr = []string{"Authorization", "Bearer " + token}
	}
	return tc.Post(mercurePath, "application/x-www-form-urlencoded", form.Encode(), hdr...)
}

func mercureSubscribeURL(topics ...string) string {
	q := url.Values{"topic": topics}
	return mercurePath + "?" + q.Encode()
}

// The publish and subscribe examples of Mercure's docs: an anonymous
// subscriber of a URI template gets a public update; a private update
// reaches only the subscriber whose token claims its topic; a native
// subscriber of the same hub sees a Mercure publish to a native topic.
func TestMercurePublishSubscribe(t *testing.T) {
	tc := startMercure(t)
	pub := mercureJWT(t, mercureSecret, map[string]any{"publish": []string{"*"}})
	subTok := mercureJWT(t, mercureSecret, map[string]any{"subscribe": []string{"https://example.com/books/{id}"}})

	anon := tc.Subscribe(mercureSubscribeURL("https://example.com/books/{id}"))
	if got := anon.Resp.Header.Get("Last-Event-ID"); got == "" {
		t.Error("no Last-Event-ID response header")
	}
	claimed := tc.Subscribe(mercureSubscribeURL("https://example.com/books/{id}"), "Authorization", "Bearer "+subTok)
	viaCookie := tc.Subscribe(mercureSubscribeURL("*"), "Cookie", mercureCookie+"="+subTok)
	native := tc.Subscribe("/events?topic=books/1")

	status, id := mercurePublish(tc, pub, "topic", "https://example.com/books/1", "data", `{"status": "OutOfStock"}`)
	if status != http.StatusOK || id == "" {
		t.Fatalf("publish: %d %q", status, id)
	}
	for name, s := range map[string]*ssetest.Stream{"anonymous": anon, "claimed": claimed, "cookie": viaCookie} {
		ev := s.Next(5 * time.Second)
		if ev.Data != `{"status": "OutOfStock"}` || ev.ID != id {
			t.Errorf("%s subscriber got %+v, want data with id %q", name, ev, id)
		}
	}

	status, privID := mercurePublish(tc, pub, "topic", "https://example.com/books/2", "data", "line 1\nline 2", "private", "on", "type", "stock", "retry", "5000")
	if status != http.StatusOK {
		t.Fatalf("private publish: %d %q", status, privID)
	}
	status, nativeID := mercurePublish(tc, pub, "topic", "books/1", "data", "to native")
	if status != http.StatusOK {
		t.Fatalf("publish to a native topic: %d", status)
	}
	if ev := claimed.Next(5 * time.Second); ev.ID != privID || ev.Data != "line 1\nline 2" || ev.Type != "stock" || ev.Retry != 5000 {
		t.Errorf("claimed subscriber got %+v, want the private update", ev)
	}
	if ev := viaCookie.Next(5 * time.Second); ev.ID != privID {
		t.Errorf("cookie subscriber (topic *, claim matches) got %+v, want the private update", ev)
	}
	if ev := viaCookie.Next(5 * time.Second); ev.ID != nativeID {
		t.Errorf("cookie subscriber got %+v, want the native-topic update", ev)
	}
	if ev := native.Next(5 * time.Second); ev.Data != "to native" {
		t.Errorf("native subscriber got %+v", ev)
	}
	// The anonymous subscriber's next event is the next public update it
	// matches: not the private one, nor books/1 (not a template match).
	_, lastID := mercurePublish(tc, pub, "topic", "https://example.com/books/3", "data", "public again")
	if ev := anon.Next(5 * time.Second); ev.ID != lastID {
		t.Errorf("anonymous subscriber got %+v, want only public updates", ev)
	}

	// A native publish reaches a Mercure subscriber of its topic.
	natSub := tc.Subscribe(mercureSubscribeURL("orders/7"))
	nid := tc.PublishForm("/events", "topic", "orders/7", "data", "from native")
	if ev := natSub.Next(5 * time.Second); ev.ID != nid || ev.Data != "from native" {
		t.Errorf("Mercure subscriber of a native topic got %+v", ev)
	}

	// Resume: lastEventID replays what came after it, the private update
	// only to whom it may see it; the header names the newest visible id.
	resumed := tc.Subscribe(mercureSubscribeURL("https://example.com/books/{id}") + "&lastEventID=" + url.QueryEscape(id))
	if ev := resumed.Next(5 * time.Second); ev.ID != lastID {
		t.Errorf("anonymous resume got %+v, want %q", ev, lastID)
	}
	if got := resumed.Resp.Header.Get("Last-Event-ID"); got != lastID {
		t.Errorf("Last-Event-ID header %q, want %q", got, lastID)
	}
	resumedClaim := tc.Subscribe(mercureSubscribeURL("https://example.com/books/{id}"), "Last-Event-ID", id, "Authorization", "Bearer "+subTok)
	if ev := resumedClaim.Next(5 * time.Second); ev.ID != privID {
		t.Errorf("claimed resume got %+v, want the private update %q", ev, privID)
	}
}

// Bad input gets Mercure's statuses and stores nothing.
func TestMercureBadInput(t *testing.T) {
	tc := startMercure(t)
	pub := mercureJWT(t, mercureSecret, map[string]any{"publish": []string{"https://example.com/books/{id}"}})
	okTopic := "https://example.com/books/1"
	tests := []struct {
		name   string
		token  string
		fields []string
		want   int
	}{
		{"no token", "", []string{"topic", okTopic, "data", "x"}, http.StatusUnauthorized},
		{"bad token", "junk.junk.junk", []string{"topic", okTopic, "data", "x"}, http.StatusUnauthorized},
		{"wrong key", mercureJWT(t, "another secret of enough length!!", map[string]any{"publish": []string{"*"}}), []string{"topic", okTopic, "data", "x"}, http.StatusUnauthorized},
		{"no publish claim", mercureJWT(t, mercureSecret, map[string]any{"subscribe": []string{"*"}}), []string{"topic", okTopic, "data", "x"}, http.StatusUnauthorized},
		{"topic not claimed", pub, []string{"topic", "https://example.com/authors/1", "data", "x"}, http.StatusUnauthorized},
		{"one of two topics not claimed", pub, []string{"topic", okTopic, "topic", "https://example.com/authors/1", "data", "x"}, http.StatusUnauthorized},
		{"no topic", pub, []string{"data", "x"}, http.StatusBadRequest},
		{"CR in topic", pub, []string{"topic", okTopic + "\r", "data", "x"}, http.StatusBadRequest},
		{"LF in id", pub, []string{"topic", okTopic, "id", "a\nb", "data", "x"}, http.StatusBadRequest},
		{"id too long", pub, []string{"topic", okTopic, "id", strings.Repeat("i", maxPublisherIDLen+1), "data", "x"}, http.StatusBadRequest},
		{"LF in type", pub, []string{"topic", okTopic, "type", "a\nb", "data", "x"}, http.StatusBadRequest},
		{"bad retry", pub, []string{"topic", okTopic, "retry", "soon", "data", "x"}, http.StatusBadRequest},
		{"body over max_body_size", pub, []string{"topic", okTopic, "data", strings.Repeat("x", 2048)}, http.StatusRequestEntityTooLarge},
	}
	for _, tc2 := range tests {
		if status, body := mercurePublish(tc, tc2.token, tc2.fields...); status != tc2.want {
			t.Errorf("%s: status %d (%s), want %d", tc2.name, status, body, tc2.want)
		}
	}
	// At the edges: an id of exactly the limit and a body just under it.
	if status, body := mercurePublish(tc, pub, "topic", okTopic, "id", strings.Repeat("i", maxPublisherIDLen), "data", "edge"); status != http.StatusOK {
		t.Errorf("id of %d bytes: %d %s", maxPublisherIDLen, status, body)
	}
	atLimit := "topic=" + url.QueryEscape(okTopic) + "&data="
	atLimit += strings.Repeat("x", 2048-len(atLimit)) // data, to exactly max_body_size
	if status, body := tc.Post(mercurePath, "application/x-www-form-urlencoded", atLimit, "Authorization", "Bearer "+pub); status != http.StatusOK {
		t.Errorf("body of exactly max_body_size: %d %s", status, body)
	}
	s := tc.Subscribe(mercureSubscribeURL("*") + "&lastEventID=earliest")
	if ev := s.Next(5 * time.Second); ev.Data != "edge" {
		t.Errorf("history holds %+v first; bad publishes must store nothing", ev)
	}
	if ev := s.Next(5 * time.Second); len(ev.Data) != 2048-len("topic=&data=")-len(url.QueryEscape(okTopic)) {
		t.Errorf("second event in history has %d bytes of data", len(ev.Data))
	}

	for name, u := range map[string]string{
		"no topic":    mercurePath,
		"LF in topic": mercureSubscribeURL("a\nb"),
	} {
		if status, _, body := ssetest.DoRequest(t, http.MethodGet, tc.URL+u, "", ""); status != http.StatusBadRequest {
			t.Errorf("subscribe, %s: %d %s", name, status, body)
		}
	}
	if status, _, _ := ssetest.DoRequest(t, http.MethodGet, tc.URL+mercureSubscribeURL("x"), "", "", "Authorization", "Bearer junk"); status != http.StatusUnauthorized {
		t.Errorf("subscribe with a bad token: %d, want 401", status)
	}
}
