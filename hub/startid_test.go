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

package hub

import "testing"

// TestSubscribeStartID: a subscription's StartID is where a client that
// got no event yet resumes from: the hub's position, the id it resumed
// from, or its reset's id; none when a replay comes first.
func TestSubscribeStartID(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 100})
	sub := func(req SubscribeRequest) *Subscription {
		t.Helper()
		req.Buffer = 10
		s, err := h.Subscribe(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.End(ReasonClientGone) })
		return s
	}
	empty := sub(SubscribeRequest{Selectors: []string{"a"}})
	if empty.StartID == "" {
		t.Fatal("a stream of an empty hub has no start id")
	}
	// Its start id resumes to what came after it, on its topics only.
	first := hubPublish(t, h, "1", "a")
	hubPublish(t, h, "2", "b")
	resumed := sub(SubscribeRequest{Selectors: []string{"a"}, LastEventID: empty.StartID, HasLastEventID: true})
	if resumed.ResetReason != "" || len(resumed.Replay) != 1 || resumed.Replay[0].ID != first.ID {
		t.Fatalf("resume from the start id: reset %q, replay %v; want the event %s", resumed.ResetReason, resumed.Replay, first.ID)
	}
	if resumed.StartID != empty.StartID {
		t.Fatalf("a resumed stream starts at %q, want its resume id %q", resumed.StartID, empty.StartID)
	}
	// The hub's position is its newest event, on any topic.
	last := hubPublish(t, h, "3", "c")
	if s := sub(SubscribeRequest{Selectors: []string{"a"}}); s.StartID != last.ID {
		t.Fatalf("start id %q, want the newest event's %q", s.StartID, last.ID)
	}
	if s := sub(SubscribeRequest{Selectors: []string{"a"}, Replay: 5}); s.StartID != "" || len(s.Replay) != 1 {
		t.Fatalf("with a replay: start id %q and %d events, want none and 1", s.StartID, len(s.Replay))
	}
	if s := sub(SubscribeRequest{Selectors: []string{"z"}, Replay: 5}); s.StartID != last.ID {
		t.Fatalf("with an empty replay: start id %q, want %q", s.StartID, last.ID)
	}
	if s := sub(SubscribeRequest{Selectors: []string{"a"}, LastEventID: "junk", HasLastEventID: true}); s.ResetReason == "" || s.StartID != s.NewestID {
		t.Fatalf("a reset: reason %q, start id %q, want the reset's id %q", s.ResetReason, s.StartID, s.NewestID)
	}
}
