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
	"strings"
	"testing"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
)

// TestOpeningIDResumesAfterQuietPeriod: a stream that got no event yet
// still has an id to resume from, its opening id, so a plain EventSource
// that reconnects after being away gets what was published meanwhile.
func TestOpeningIDResumesAfterQuietPeriod(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	s := tc.SubscribeLines("/?topic=news")
	_, opening := expectOpeningID(t, s)
	if opening == "" {
		t.Fatal("the stream opened with no id: line")
	}
	s.Close()

	// The response header carries the same id, for fetch-based clients.
	head := tc.Subscribe("/?topic=news")
	if got := head.Resp.Header.Get("Last-Event-ID"); got != opening {
		t.Fatalf("Last-Event-ID header %q, want the opening id %q", got, opening)
	}
	head.Close()

	// Published while the client was away: one it sees, one it does not.
	tc.PublishForm("/", "topic", "other", "data", "not yours")
	id := tc.PublishForm("/", "topic", "news", "data", "while away")

	// The browser sends the last id it saw: the opening one.
	back := tc.Subscribe("/?topic=news", "Last-Event-ID", opening)
	if ev := back.Next(itWait); ev.ID != id || ev.Data != "while away" || ev.Type != "message" {
		t.Fatalf("after reconnecting with the opening id got %+v, want the event %s published while away", ev, id)
	}
	// Its own opening id is the one it resumed from.
	if got := back.Resp.Header.Get("Last-Event-ID"); got != opening {
		t.Fatalf("a resumed stream's Last-Event-ID header %q, want its resume id %q", got, opening)
	}
}

// TestOpeningIDAfterEvents: a new stream starts at the hub's newest
// event, whatever its topic, and a replay has no opening id.
func TestOpeningIDAfterEvents(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	tc.PublishForm("/", "topic", "news", "data", "old")
	last := tc.PublishForm("/", "topic", "other", "data", "newest")
	s := tc.SubscribeLines("/?topic=news")
	if _, opening := expectOpeningID(t, s); opening != last {
		t.Fatalf("opening id %q, want the hub's newest event %q", opening, last)
	}
	r := tc.Subscribe("/?topic=news&replay=1")
	if got := r.Resp.Header.Get("Last-Event-ID"); got != "" {
		t.Fatalf("a replaying stream has Last-Event-ID %q, want none: its events carry their ids", got)
	}
	if ev := r.Next(itWait); ev.Data != "old" {
		t.Fatalf("replay got %+v, want the event old", ev)
	}
}

// TestOpeningIDNeverEchoesJunk: a resume id the hub cannot read gets a
// reset whose id is the hub's; the junk is written nowhere.
func TestOpeningIDNeverEchoesJunk(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	junk := "x\ndata: injected"
	s := tc.SubscribeLines("/?topic=news&last_event_id=" + ssetest.QueryEscape(junk))
	_, opening := expectOpeningID(t, s)
	if opening == "" || strings.Contains(opening, "injected") {
		t.Fatalf("opening id %q, want the hub's", opening)
	}
	if line := s.Line(itWait); line != "id: "+opening {
		t.Fatalf("after the opening got %q, want the sse.reset with id %s", line, opening)
	}
	if line := s.Line(itWait); line != "event: sse.reset" {
		t.Fatalf("got %q, want event: sse.reset", line)
	}
}
