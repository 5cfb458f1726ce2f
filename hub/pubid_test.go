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

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// pubEvent returns a valid event its publisher gave id.
func pubEvent(id, data string, topics ...string) *Event {
	return &Event{ID: id, Topics: topics, Data: data}
}

// publishWithID publishes one event with a publisher id through
// Hub.Publish, as the glue does, and fails the test on error.
func publishWithID(t testing.TB, h *Hub, id, data string, topics ...string) *Event {
	t.Helper()
	ev := pubEvent(id, data, topics...)
	if err := ev.Validate(); err != nil {
		t.Fatalf("invalid test event: %v", err)
	}
	ids, err := h.Publish(context.Background(), []*Event{ev}, "", 0)
	if err != nil {
		t.Fatalf("publish %q: %v", data, err)
	}
	if len(ids) != 1 || ids[0] != id || ev.ID != id || !ev.PublisherID() {
		t.Fatalf("publish with id %q returned %q, event id %q", id, ids, ev.ID)
	}
	return ev
}

func resumeFrom(t *testing.T, h *Hub, id string, selectors ...string) *Subscription {
	t.Helper()
	return hubSubscribe(t, h, SubscribeRequest{Selectors: selectors, LastEventID: id, HasLastEventID: true})
}

func TestValidatePublisherID(t *testing.T) {
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"none", "", true},
		{"urn", "urn:uuid:3b2f1c1e-8d4c-4f7e-9a0b-1c2d3e4f5a6b", true},
		{"url", "https://example.com/books/1?v=2#x", true},
		{"inner space", "a b", true},
		{"unicode", "événement-1", true},
		{"256 bytes", strings.Repeat("x", MaxPublisherIDLen), true},
		{"257 bytes", strings.Repeat("x", MaxPublisherIDLen+1), false},
		{"256 bytes ending in a 2-byte rune", strings.Repeat("x", MaxPublisherIDLen-2) + "é", true},
		{"257 bytes ending in a 2-byte rune", strings.Repeat("x", MaxPublisherIDLen-1) + "é", false},
		{"CR", "a\rb", false},
		{"LF", "a\nb", false},
		{"CRLF", "a\r\n", false},
		{"NUL", "a\x00b", false},
		{"tab", "a\tb", false},
		{"DEL", "a\x7fb", false},
		{"C1 control", "a\u0085b", false},
		{"leading space", " a", false},
		{"trailing space", "a ", false},
		{"invalid UTF-8", "a\xffb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePublisherID(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidatePublisherID(%q) = %v, want ok %v", tc.id, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrPublisherID) {
				t.Fatalf("error %v does not wrap ErrPublisherID", err)
			}
			// Event.Validate applies it, so the glue's 400 covers it.
			verr := pubEvent(tc.id, "x", "a").Validate()
			if (verr == nil) != tc.ok || (verr != nil && !errors.Is(verr, ErrPublisherID)) {
				t.Fatalf("Validate = %v, want ok %v", verr, tc.ok)
			}
		})
	}
}

func TestHubPublisherIDOnTheWire(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 10})
	sub := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"a"}})
	long := strings.Repeat("z", MaxPublisherIDLen)
	evs := []*Event{pubEvent("urn:x:1", "one", "a"), hubEvent("two", "a"), pubEvent(long, "three", "a")}
	ids, err := h.Publish(context.Background(), evs, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != "urn:x:1" || ids[2] != long || len(ids[1]) != IDLen {
		t.Fatalf("ids %q", ids)
	}
	if evs[1].PublisherID() || idSeq(t, h, ids[1]) != 2 {
		t.Fatalf("the event without an id got %q, not the hub's second", ids[1])
	}
	got := hubQueued(sub.Subscriber)
	if len(got) != 3 {
		t.Fatalf("queued %q", hubData(got))
	}
	for i, e := range got {
		if e.ID != ids[i] || !bytes.HasPrefix(e.Wire(), []byte("id: "+ids[i]+"\n")) {
			t.Fatalf("event %d: id %q, wire %q; want id %q", i, e.ID, e.Wire(), ids[i])
		}
	}
	// Hub order is the publish order, whatever the ids say.
	if st := h.Stats(); st.OldestID != "urn:x:1" || st.NewestID != long {
		t.Fatalf("stats oldest %q newest %q", st.OldestID, st.NewestID)
	}
	// max_event_size counts the publisher's id as it is on the wire.
	big := pubEvent(long, "x", "a")
	size := IDLineLen(long) + len(big.Body())
	if _, err := h.Publish(context.Background(), []*Event{pubEvent(long, "x", "a")}, "", size); err != nil {
		t.Fatalf("event of max_event_size: %v", err)
	}
	if _, err := h.Publish(context.Background(), []*Event{pubEvent(long, "x", "a")}, "", size-1); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("event a byte over max_event_size: %v", err)
	}
}

func TestHubResumeFromPublisherID(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 10})
	publishWithID(t, h, "p1", "one", "a")
	hubPublish(t, h, "two", "a")
	hubPublish(t, h, "other topic", "b")
	publishWithID(t, h, "p4", "four", "a")
	hubPublish(t, h, "five", "a")

	sub := resumeFrom(t, h, "p1", "a")
	if sub.ResetReason != "" || !slices.Equal(hubData(sub.Replay), []string{"two", "four", "five"}) {
		t.Fatalf("resume from p1: reason %q, replay %q", sub.ResetReason, hubData(sub.Replay))
	}
	sub = resumeFrom(t, h, "p4", "a", "b")
	if sub.ResetReason != "" || !slices.Equal(hubData(sub.Replay), []string{"five"}) {
		t.Fatalf("resume from p4: reason %q, replay %q", sub.ResetReason, hubData(sub.Replay))
	}
	// The subscriber's selectors decide, as for a hub id.
	sub = resumeFrom(t, h, "p1", "b")
	if sub.ResetReason != "" || !slices.Equal(hubData(sub.Replay), []string{"other topic"}) {
		t.Fatalf("resume from p1 on b: reason %q, replay %q", sub.ResetReason, hubData(sub.Replay))
	}
	// Hub ids keep working beside publisher ids.
	two := h.history[1].ID
	sub = resumeFrom(t, h, two, "a")
	if sub.ResetReason != "" || !slices.Equal(hubData(sub.Replay), []string{"four", "five"}) {
		t.Fatalf("resume from a hub id: reason %q, replay %q", sub.ResetReason, hubData(sub.Replay))
	}
	// Live events follow the replay without a gap.
	live := hubPublish(t, h, "live", "a")
	if got := hubQueued(sub.Subscriber); len(got) != 1 || got[0] != live {
		t.Fatalf("live %q", hubData(got))
	}
}

func TestHubPublisherIDReused(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 4})
	publishWithID(t, h, "dup", "one", "a")
	hubPublish(t, h, "two", "a")
	publishWithID(t, h, "dup", "three", "b")
	hubPublish(t, h, "four", "a")

	sub := resumeFrom(t, h, "dup", "a", "b")
	if sub.ResetReason != "" || !slices.Equal(hubData(sub.Replay), []string{"four"}) {
		t.Fatalf("resume from a reused id: reason %q, replay %q; want after the newest", sub.ResetReason, hubData(sub.Replay))
	}
	// Trimming the older carrier leaves the newer one resumable.
	hubPublish(t, h, "five", "a")
	if h.history[0].Data != "two" {
		t.Fatalf("history starts at %q", h.history[0].Data)
	}
	sub = resumeFrom(t, h, "dup", "a")
	if sub.ResetReason != "" || !slices.Equal(hubData(sub.Replay), []string{"four", "five"}) {
		t.Fatalf("after trimming the older: reason %q, replay %q", sub.ResetReason, hubData(sub.Replay))
	}
}

func TestHubPublisherIDTrimmed(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 2})
	publishWithID(t, h, "gone", "one", "a")
	hubPublish(t, h, "two", "a")
	newest := hubPublish(t, h, "three", "a").ID

	sub := resumeFrom(t, h, "gone", "a")
	if sub.ResetReason != ReasonUnknownID || sub.NewestID != newest || len(sub.Replay) != 0 {
		t.Fatalf("trimmed id: reason %q, newest %q (want %q), %d replayed", sub.ResetReason, sub.NewestID, newest, len(sub.Replay))
	}
	if len(h.pubIDs) != 0 {
		t.Fatalf("trimmed ids still mapped: %v", h.pubIDs)
	}
	sub = resumeFrom(t, h, "never published", "a")
	if sub.ResetReason != ReasonUnknownID || sub.NewestID != newest {
		t.Fatalf("unknown id: reason %q, newest %q", sub.ResetReason, sub.NewestID)
	}
}

// With no history, a reset cannot hand out a publisher id, which would
// no longer resolve: the client would be reset again and again.
func TestHubPublisherIDResetWithoutHistory(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 0})
	publishWithID(t, h, "p", "one", "a")
	sub := resumeFrom(t, h, "p", "a")
	if sub.ResetReason != ReasonUnknownID || sub.NewestID == "p" || sub.NewestID == "" {
		t.Fatalf("reason %q, newest %q", sub.ResetReason, sub.NewestID)
	}
	again := resumeFrom(t, h, sub.NewestID, "a")
	if again.ResetReason != "" || len(again.Replay) != 0 {
		t.Fatalf("resume from the reset id: reason %q, %d replayed", again.ResetReason, len(again.Replay))
	}
}

// A publisher id is looked up before the id is read as the hub's own:
// one that copies a hub id names the publisher's event while that is in
// history, and the hub's ids are the hub's again once it is trimmed.
func TestHubPublisherIDLooksLikeHubID(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 3})
	first := hubPublish(t, h, "one", "a").ID
	hubPublish(t, h, "two", "a")
	publishWithID(t, h, first, "copy", "a")
	hubPublish(t, h, "four", "a")

	sub := resumeFrom(t, h, first, "a")
	if sub.ResetReason != "" || !slices.Equal(hubData(sub.Replay), []string{"four"}) {
		t.Fatalf("copied hub id: reason %q, replay %q; want after the publisher's event", sub.ResetReason, hubData(sub.Replay))
	}
	// A random id of the hub ids' shape resumes as a publisher id.
	shaped := "AAAAAAAAAAAAAAAAAAAAAA"
	if _, ok := h.log.ParseID(shaped); ok {
		t.Skip("the test id happens to be one of this hub's")
	}
	publishWithID(t, h, shaped, "five", "a")
	hubPublish(t, h, "six", "a")
	sub = resumeFrom(t, h, shaped, "a")
	if sub.ResetReason != "" || !slices.Equal(hubData(sub.Replay), []string{"six"}) {
		t.Fatalf("hub-shaped publisher id: reason %q, replay %q", sub.ResetReason, hubData(sub.Replay))
	}
	// The copy is trimmed: the id is the hub's first event again, which
	// has left history.
	sub = resumeFrom(t, h, first, "a")
	if sub.ResetReason != ReasonExpiredID {
		t.Fatalf("hub id after the copy left history: reason %q", sub.ResetReason)
	}
}

func TestHubPublisherIDIdempotencyKey(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 10})
	ids, err := h.Publish(context.Background(), []*Event{pubEvent("k1", "one", "a"), hubEvent("two", "a")}, "key", 0)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.Publish(context.Background(), []*Event{pubEvent("k1", "one", "a"), hubEvent("two", "a")}, "key", 0)
	if err != nil || !slices.Equal(ids, again) || len(h.history) != 2 {
		t.Fatalf("retry: ids %q then %q (%v), history %d", ids, again, err, len(h.history))
	}
}

// A hub whose publishers give no ids keeps no map of them.
func TestHubNoPublisherIDsNoMap(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 2})
	for range 5 {
		hubPublish(t, h, "x", "a")
	}
	if h.pubIDs != nil {
		t.Fatal("a map of publisher ids was made")
	}
}

// A subscriber that came before a shared log's first load, resuming from
// a publisher id, gets what follows the newest event with that id in the
// load; one whose id the load does not have is reset.
func TestSharedLogPublisherIDResumeBeforeLoad(t *testing.T) {
	h, log := newTransportHub(10)
	log.keyless = true
	sub := func(id string) *Subscription {
		s, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: id, HasLastEventID: true, Buffer: 100})
		if err != nil || s.ResetReason != "" {
			t.Fatalf("resume from %q before load: %+v, %v", id, s, err)
		}
		t.Cleanup(s.Close)
		return s
	}
	dup, unknown := sub("dup"), sub("unknown")

	evs := streamEvents(3, 4, 5, 6)
	for _, i := range []int{0, 2} {
		e := evs[i]
		evs[i] = NewStoredPublisherEvent("dup", e.Pos, e.Time, e.Topics, e.Body())
	}
	log.load(evs, Position{2, 0}, false)
	if got := takeIDs(dup.Subscriber); got != "6-0" {
		t.Errorf("resumed from a reused publisher id, got %q from the load, want 6-0", got)
	}
	if !hubDone(unknown.Subscriber) || unknown.Reason() != ReasonUnknownID {
		t.Errorf("unknown publisher id: done %v, reason %q", hubDone(unknown.Subscriber), unknown.Reason())
	}
	log.ingest(streamEvents(7))
	if got := takeIDs(dup.Subscriber); got != "7-0" {
		t.Errorf("live after the load: %q", got)
	}
}
