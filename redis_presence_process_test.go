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
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest/redistest"
)

// TestRedisPresenceTwoProcesses runs two Caddy processes on one Redis:
// presence is the cluster's, a member of a killed instance leaves, and
// occupied is sent once by the cluster.
func TestRedisPresenceTwoProcesses(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url)
	hubName := redistest.UniqueHub(t)
	bin := caddyBinary(t)
	rc := newWHReceiver(t, func(int) int { return http.StatusOK })
	extra := `
		presence
		presence_grace 100ms
		jwt {
			key ` + jwtTestSecret + `
		}
		webhook ` + rc.srv.URL + ` {
			secret ` + whSecret + `
			events occupied
		}`
	site := redistest.Site(url, prefix, hubName, extra)
	a := startCaddyProcess(t, bin, t.TempDir(), freePort(t), freePort(t), site)
	b := startCaddyProcess(t, bin, t.TempDir(), freePort(t), freePort(t), site)
	token := func(sub string) []string {
		return []string{"Authorization", "Bearer " + presenceToken(t, sub, "room")}
	}
	members := func(p *caddyProcess) []string {
		status, body := getPresence(t, p.URL+"/events?presence=room", presenceToken(t, "q", "room"))
		if status != http.StatusOK {
			t.Fatalf("presence on %s: %d %s", p.URL, status, body)
		}
		var ids []string
		for _, m := range decodePresence(t, body).Members {
			ids = append(ids, m.Identity)
		}
		slices.Sort(ids)
		return ids
	}

	// Alice joins on A; B's query shows her.
	openLines(t, a.URL+"/events?topic=room", token("alice")...)
	pollUntil(t, 10*time.Second, "B sees alice", func() bool { return slices.Equal(members(b), []string{"alice"}) })
	// Alice on B too and bob on B: alice is one member.
	openLines(t, b.URL+"/events?topic=room", token("alice")...)
	openLines(t, b.URL+"/events?topic=room", token("bob")...)
	pollUntil(t, 10*time.Second, "A sees alice once and bob", func() bool { return slices.Equal(members(a), []string{"alice", "bob"}) })
	openLines(t, a.URL+"/events?topic=room", token("carol")...)
	pollUntil(t, 10*time.Second, "B sees carol", func() bool { return len(members(b)) == 3 })

	// Both instances got streams on room: occupied came once.
	if got := rc.next(t); len(got.events) != 1 || got.events[0]["type"] != "occupied" {
		t.Fatalf("webhook got %v, want one occupied", got.events)
	}

	// kill -9 A: carol, only on A, leaves B's view within 30 s; alice stays.
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, 30*time.Second, "carol gone from B's view", func() bool { return slices.Equal(members(b), []string{"alice", "bob"}) })
	select {
	case got := <-rc.got:
		t.Fatalf("a second webhook request: %v", got.events)
	default:
	}
}
