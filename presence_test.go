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

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/golang-jwt/jwt/v5"
)

// presenceSite is a route of a hub with presence, whose grants come from
// tokens and a public topic; {GRACE} is its presence_grace.
const presenceSite = `http://127.0.0.1:{PORT} {
	sse /events {
		hub presence-it
		presence
		presence_grace {GRACE}
		heartbeat off
		subscribe_allow lobby
		publish_allow rooms/**
		jwt {
			key ` + jwtTestSecret + `
		}
	}
	sse /quiet {
		hub quiet-it
		heartbeat off
		subscribe_allow lobby
	}
}
`

// presenceToken is a token of sub that may subscribe to topics.
func presenceToken(t *testing.T, sub string, topics ...string) string {
	return hsToken(t, jwt.MapClaims{"sub": sub, "sse": sseClaim(topics, nil)})
}

// getPresence queries a route's presence and returns status and body.
func getPresence(t *testing.T, url, token string) (int, string) {
	t.Helper()
	var header []string
	if token != "" {
		header = []string{"Authorization", "Bearer " + token}
	}
	status, _, body := doRequest(t, http.MethodGet, url, "", "", header...)
	return status, body
}

func decodePresence(t *testing.T, body string) hub.PresenceInfo {
	t.Helper()
	var info hub.PresenceInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return info
}

func TestPresenceQuery(t *testing.T) {
	tc := startCaddy(t, strings.ReplaceAll(presenceSite, "{GRACE}", "1h"))
	alice := presenceToken(t, "alice", "rooms/1")
	// Two tabs of one user are one member with two streams.
	tc.Subscribe("/events?topic=rooms/1", "Authorization", "Bearer "+alice)
	tc.Subscribe("/events?topic=rooms/1", "Authorization", "Bearer "+alice)
	// A pattern makes no member.
	tc.Subscribe("/events?topic=rooms/*", "Authorization", "Bearer "+presenceToken(t, "spy", "rooms/**"))
	// Anonymous streams are counted.
	tc.Subscribe("/events?topic=lobby")

	status, body := getPresence(t, tc.URL+"/events?presence=rooms/1", alice)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	info := decodePresence(t, body)
	if info.Topic != "rooms/1" || info.Count != 1 || len(info.Members) != 1 || info.Members[0].Identity != "alice" ||
		info.Members[0].Streams != 2 || info.Anonymous != 0 || info.Members[0].Since.IsZero() {
		t.Fatalf("presence %s", body)
	}
	if !strings.Contains(body, `"since":"`) || !strings.Contains(body, `"count":1`) {
		t.Fatalf("presence JSON %s", body)
	}
	// An anonymous request may query a topic granted to everyone.
	status, body = getPresence(t, tc.URL+"/events?presence=lobby", "")
	if info := decodePresence(t, body); status != http.StatusOK || info.Anonymous != 1 || info.Count != 0 || len(info.Members) != 0 {
		t.Fatalf("lobby: %d %s", status, body)
	}
	// A topic nobody is on has no members.
	if status, body = getPresence(t, tc.URL+"/events?presence=lobby/empty", presenceToken(t, "x", "lobby/**")); status != http.StatusOK ||
		!strings.Contains(body, `"members":[]`) {
		t.Fatalf("empty topic: %d %s", status, body)
	}

	for _, tt := range []struct {
		name, query, token string
		status             int
		want               string
	}{
		{"no credentials", "presence=rooms/1", "", http.StatusUnauthorized, `not allowed to subscribe to "rooms/1"`},
		{"not granted", "presence=rooms/1", presenceToken(t, "bob", "rooms/2"), http.StatusForbidden, `not allowed to subscribe to "rooms/1"`},
		{"bad token", "presence=rooms/1", "junk", http.StatusUnauthorized, ""},
		{"a pattern", "presence=rooms/*", alice, http.StatusBadRequest, "not a pattern"},
		{"empty", "presence=", alice, http.StatusBadRequest, "presence:"},
		{"two topics", "presence=rooms/1&presence=rooms/2", alice, http.StatusBadRequest, "takes no other presence or topic"},
		{"with a topic", "presence=rooms/1&topic=rooms/1", alice, http.StatusBadRequest, "takes no other presence or topic"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := getPresence(t, tc.URL+"/events?"+tt.query, tt.token)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("status %d %q, want %d %q", status, body, tt.status, tt.want)
			}
		})
	}

	// A hub without presence: 404 for a query, 400 for presence=on.
	if status, body := getPresence(t, tc.URL+"/quiet?presence=lobby", ""); status != http.StatusNotFound || !strings.Contains(body, "presence is off") {
		t.Fatalf("query on a hub without presence: %d %s", status, body)
	}
	if status, body := getPresence(t, tc.URL+"/quiet?presence=on&topic=lobby", ""); status != http.StatusBadRequest || !strings.Contains(body, "presence is off") {
		t.Fatalf("presence=on on a hub without presence: %d %s", status, body)
	}
}

func TestPresenceEventsOnStream(t *testing.T) {
	tc := startCaddy(t, strings.ReplaceAll(presenceSite, "{GRACE}", "50ms"))
	carol := presenceToken(t, "carol", "rooms/1")
	w := tc.Subscribe("/events?topic=rooms/1&presence=on", "Authorization", "Bearer "+carol)
	// Presence events carry no id: the last event id stays the stream's
	// opening one.
	start := w.Resp.Header.Get("Last-Event-ID")
	if start == "" {
		t.Fatal("the stream has no Last-Event-ID header")
	}
	next := func(typ, identity string, count int) {
		t.Helper()
		ev := w.Next(10 * time.Second)
		var data struct {
			Topic, Identity string
			Count           int
		}
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil || ev.Type != typ || ev.ID != start ||
			data.Topic != "rooms/1" || data.Identity != identity || data.Count != count {
			t.Fatalf("got %+v, want %s of %s with count %d", ev, typ, identity, count)
		}
	}
	next("sse.join", "carol", 1)
	bob := presenceToken(t, "bob", "rooms/1")
	b1 := tc.Subscribe("/events?topic=rooms/1", "Authorization", "Bearer "+bob)
	next("sse.join", "bob", 2)
	b2 := tc.Subscribe("/events?topic=rooms/1", "Authorization", "Bearer "+bob) // a second tab: no join
	b1.Close()
	b2.Close()
	next("sse.leave", "bob", 1)
	// Events published meanwhile come as ever, ids and all.
	tc.PublishForm("/events", "topic", "rooms/1", "data", "hello")
	if ev := w.Next(10 * time.Second); ev.Data != "hello" {
		t.Fatalf("got %+v", ev)
	}
}

func TestPresenceAdminAPI(t *testing.T) {
	ac := startAdminCaddy(t, strings.ReplaceAll(presenceSite, "{GRACE}", "1h"))
	ac.Subscribe("/events?topic=rooms/1&topic=rooms/2", "Authorization", "Bearer "+presenceToken(t, "alice", "rooms/*"))
	ac.Subscribe("/events?topic=lobby")

	var info hub.PresenceInfo
	ac.GetJSON("/sse/hubs/presence-it/presence?topic=rooms/1", &info)
	if info.Count != 1 || info.Members[0].Identity != "alice" || info.Members[0].Streams != 1 {
		t.Fatalf("presence %+v", info)
	}
	var all struct {
		Hub    string
		Topics []hub.TopicPresence
	}
	ac.GetJSON("/sse/hubs/presence-it/presence", &all)
	want := []hub.TopicPresence{{Topic: "lobby", Anonymous: 1, Streams: 1}, {Topic: "rooms/1", Count: 1, Streams: 1}, {Topic: "rooms/2", Count: 1, Streams: 1}}
	if all.Hub != "presence-it" || len(all.Topics) != len(want) {
		t.Fatalf("topics %+v", all)
	}
	for i := range want {
		if all.Topics[i] != want[i] {
			t.Fatalf("topics %+v, want %+v", all.Topics, want)
		}
	}
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/sse/hubs/quiet-it/presence", http.StatusNotFound},
		{http.MethodGet, "/sse/hubs/nohub/presence", http.StatusNotFound},
		{http.MethodGet, "/sse/hubs/presence-it/presence?topic=rooms/*", http.StatusBadRequest},
		{http.MethodDelete, "/sse/hubs/presence-it/presence", http.StatusMethodNotAllowed},
	} {
		if status, _, body := ac.Do(tt.method, tt.path, "", ""); status != tt.status {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, status, body, tt.status)
		}
	}
}

// The reason a stream ended reaches presence observers (the webhook's
// disconnect): the writer's, when the hub did not end it.
func TestPresenceDisconnectReasons(t *testing.T) {
	tc := startCaddy(t, strings.ReplaceAll(presenceSite, "{GRACE}", "1h"))
	hb, ok := LookupHub("presence-it")
	if !ok {
		t.Fatal("hub presence-it not found")
	}
	events := make(chan hub.PresenceEvent, 16)
	hb.SetObserver(func(e hub.PresenceEvent) {
		if e.Type == hub.PresenceDisconnect {
			events <- e
		}
	})
	defer hb.SetObserver(nil)
	next := func(want hub.Reason) {
		t.Helper()
		select {
		case e := <-events:
			if e.Reason != want || e.Identity != "alice" {
				t.Fatalf("disconnect %+v, want reason %s of alice", e, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no disconnect with reason %s", want)
		}
	}
	alice := presenceToken(t, "alice", "rooms/1")
	tc.Subscribe("/events?topic=rooms/1", "Authorization", "Bearer "+alice).Close()
	next(hub.ReasonClientGone)

	s := tc.Subscribe("/events?topic=rooms/1", "Authorization", "Bearer "+alice)
	defer s.Close()
	subs := hb.Subscribers()
	if len(subs) != 1 {
		t.Fatalf("subscribers %+v", subs)
	}
	hb.Disconnect(subs[0].ID, hub.ReasonDisconnected, 0)
	next(hub.ReasonDisconnected)

	short := hsToken(t, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(2 * time.Second).Unix(), "sse": sseClaim([]string{"rooms/1"}, nil)})
	tc.Subscribe("/events?topic=rooms/1", "Authorization", "Bearer "+short)
	next(hub.ReasonTokenExpired)
}
