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
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hubClock is a clock the test moves by hand.
type hubClock struct {
	mu  sync.Mutex
	now time.Time
}

func newHubClock() *hubClock {
	return &hubClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *hubClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *hubClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestHub returns a hub on a fake clock, closed when the test ends.
func newTestHub(t testing.TB, s Settings) (*Hub, *hubClock) {
	t.Helper()
	clock := newHubClock()
	h := New("test", s, Options{Now: clock.Now})
	t.Cleanup(h.Close)
	return h, clock
}

// hubEvent returns a fresh valid event; Publish takes ownership of it.
func hubEvent(data string, topics ...string) *Event {
	return &Event{Topics: topics, Data: data}
}

// hubPublish publishes one event and fails the test on error.
func hubPublish(t testing.TB, h *Hub, data string, topics ...string) *Event {
	t.Helper()
	ev := hubEvent(data, topics...)
	if err := ev.Validate(); err != nil {
		t.Fatalf("invalid test event: %v", err)
	}
	ids, err := h.Publish(context.Background(), []*Event{ev}, "", 0)
	if err != nil {
		t.Fatalf("publish %q to %q: %v", data, topics, err)
	}
	if len(ids) != 1 || ids[0] != ev.ID {
		t.Fatalf("publish returned ids %q, event has id %q", ids, ev.ID)
	}
	return ev
}

// hubSubscribe subscribes and closes the subscriber when the test ends.
func hubSubscribe(t testing.TB, h *Hub, req SubscribeRequest) *Subscription {
	t.Helper()
	if req.Buffer == 0 {
		req.Buffer = 1024
	}
	sub, err := h.Subscribe(req)
	if err != nil {
		t.Fatalf("subscribe %+v: %v", req, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// hubQueued returns the events queued for s without waiting: Publish
// queues synchronously, so after it returns they are all there.
func hubQueued(s *Subscriber) []*Event {
	return s.Take(nil)
}

func hubData(evs []*Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Data
	}
	return out
}

// idSeq returns the number of a memory hub's event from its id, which
// only the hub can read.
func idSeq(t testing.TB, h *Hub, id string) uint64 {
	t.Helper()
	pos, ok := h.log.ParseID(id)
	if !ok {
		t.Fatalf("id %q is not one of this hub's", id)
	}
	return pos.Minor
}

func hubDone(s *Subscriber) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

func TestHubFanOut(t *testing.T) {
	published := [][]string{ // topics of each event, in publish order
		{"orders/1"},
		{"orders/2"},
		{"users/7/notifications"},
		{"orders/1/items"},
		{"logs/app/web"},
		{"logs"},
		{"orders/1", "users/7/notifications"},
		{"🎉/party"},
	}
	tests := []struct {
		name      string
		selectors []string
		want      []int // indexes into published
	}{
		{"exact", []string{"orders/1"}, []int{0, 6}},
		{"exact, deeper topic not included", []string{"orders/1/items"}, []int{3}},
		{"one segment", []string{"orders/*"}, []int{0, 1, 6}},
		{"deep", []string{"logs/**"}, []int{4}},
		{"middle wildcard", []string{"users/*/notifications"}, []int{2, 6}},
		{"everything", []string{"**"}, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"single segment topics", []string{"*"}, []int{5}},
		{"overlapping selectors, each event once", []string{"orders/1", "orders/*", "orders/**", "**"}, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"exact and pattern on one event", []string{"orders/1", "users/*/notifications"}, []int{0, 2, 6}},
		{"several topics of one event", []string{"orders/1", "users/7/notifications"}, []int{0, 2, 6}},
		{"unicode", []string{"🎉/*"}, []int{7}},
		{"nothing matches", []string{"other/**", "orders"}, nil},
	}
	h, _ := newTestHub(t, Settings{History: 100})
	subs := make([]*Subscription, len(tests))
	for i, tc := range tests {
		subs[i] = hubSubscribe(t, h, SubscribeRequest{Selectors: tc.selectors})
	}
	var events []*Event
	for i, topics := range published {
		events = append(events, hubPublish(t, h, fmt.Sprintf("event %d", i), topics...))
	}
	for i, tc := range tests {
		var want []*Event
		for _, j := range tc.want {
			want = append(want, events[j])
		}
		got := hubQueued(subs[i].Subscriber)
		if !slices.Equal(got, want) {
			t.Errorf("%s: received %q, want %q", tc.name, hubData(got), hubData(want))
		}
	}
	st := h.Stats()
	if st.Published != uint64(len(published)) || st.Subscribers != len(tests) || st.Dropped != 0 || st.Replayed != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestHubIDs(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 1000})
	seen := make(map[string]bool)
	var last uint64
	for i := range 300 {
		var ids []string
		var err error
		if i%3 == 0 { // batches take consecutive ids too
			ids, err = h.Publish(context.Background(), []*Event{hubEvent("a", "t"), hubEvent("b", "t")}, "", 0)
		} else {
			ids, err = h.Publish(context.Background(), []*Event{hubEvent("a", "t")}, "", 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("id %q given twice", id)
			}
			seen[id] = true
			if n := idSeq(t, h, id); n <= last {
				t.Fatalf("id %q after sequence %d", id, last)
			} else {
				last = n
			}
		}
	}
}

// TestHubIDsDistinctBetweenHubs creates hubs at the same instant, as one
// config provisioning several hubs does, and checks that they never
// accept each other's ids.
func TestHubIDsDistinctBetweenHubs(t *testing.T) {
	clock := newHubClock()
	a := New("a", Settings{History: 10}, Options{Now: clock.Now})
	b := New("b", Settings{History: 10}, Options{Now: clock.Now})
	defer a.Close()
	defer b.Close()
	var aIDs, bIDs []string
	for range 3 {
		aIDs = append(aIDs, hubPublish(t, a, "x", "t").ID)
		bIDs = append(bIDs, hubPublish(t, b, "x", "t").ID)
	}
	for _, id := range aIDs {
		if slices.Contains(bIDs, id) {
			t.Fatalf("hubs a and b both gave id %q", id)
		}
	}
	sub, err := b.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: aIDs[0], HasLastEventID: true, Buffer: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if sub.ResetReason != ReasonUnknownID || sub.NewestID != bIDs[2] || len(sub.Replay) != 0 {
		t.Fatalf("resume on b with a's id: reason %q, newest %q (want %q), %d replayed", sub.ResetReason, sub.NewestID, bIDs[2], len(sub.Replay))
	}
}

func TestHubResume(t *testing.T) {
	tests := []struct {
		name      string
		selectors []string
		after     int // index of the resume id
		want      []int
	}{
		{"all topics", []string{"**"}, 3, []int{4, 5, 6, 7, 8, 9}},
		{"one topic", []string{"a"}, 3, []int{4, 6, 8}},
		{"id of an event on another topic", []string{"b"}, 2, []int{3, 5, 7, 9}},
		{"newest id", []string{"**"}, 9, nil},
		{"oldest id", []string{"a", "b"}, 0, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHub(t, Settings{History: 100})
			var evs []*Event // even ones on "a", odd ones on "b"
			for i := range 10 {
				evs = append(evs, hubPublish(t, h, strconv.Itoa(i), []string{"a", "b"}[i%2]))
			}
			sub := hubSubscribe(t, h, SubscribeRequest{Selectors: tc.selectors, LastEventID: evs[tc.after].ID, HasLastEventID: true})
			if sub.ResetReason != "" {
				t.Fatalf("reset %q", sub.ResetReason)
			}
			var want []*Event
			for _, i := range tc.want {
				want = append(want, evs[i])
			}
			if !slices.Equal(sub.Replay, want) {
				t.Fatalf("replay %q, want %q", hubData(sub.Replay), hubData(want))
			}
			// Live events follow the replay.
			live := hubPublish(t, h, "live", "a", "b")
			if got := hubQueued(sub.Subscriber); len(got) != 1 || got[0] != live {
				t.Fatalf("live events %q, want [live]", hubData(got))
			}
		})
	}
}

// TestHubResumeWhilePublishing resumes in the middle of a publisher's run
// and checks that replay and live events join with no gap and no
// duplicate.
func TestHubResumeWhilePublishing(t *testing.T) {
	const total = 3000
	for round := range 5 {
		h, _ := newTestHub(t, Settings{History: total})
		ids := make(chan string, total)
		errc := make(chan error, 1)
		go func() {
			defer close(ids)
			for i := range total {
				got, err := h.Publish(context.Background(), []*Event{hubEvent(strconv.Itoa(i), "jobs/1")}, "", 0)
				if err != nil {
					errc <- err
					return
				}
				ids <- got[0]
			}
		}()
		// Resume from an early event once the publisher is well under way.
		var published []string
		for id := range ids {
			published = append(published, id)
			if len(published) == 500+round*200 {
				break
			}
		}
		after := len(published) / 2
		sub, err := h.Subscribe(SubscribeRequest{Selectors: []string{"jobs/*"}, LastEventID: published[after], HasLastEventID: true, Buffer: total})
		if err != nil {
			t.Fatal(err)
		}
		for id := range ids { // wait for the publisher to finish
			published = append(published, id)
		}
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
		if len(published) != total {
			t.Fatalf("publisher published %d of %d", len(published), total)
		}
		if hubDone(sub.Subscriber) {
			t.Fatalf("round %d: subscriber dropped: %s", round, sub.Reason())
		}
		got := slices.Concat(sub.Replay, hubQueued(sub.Subscriber))
		sub.Close()
		want := published[after+1:]
		if len(got) != len(want) {
			t.Fatalf("round %d: received %d events after id %d, want %d", round, len(got), after, len(want))
		}
		for i, e := range got {
			if e.ID != want[i] {
				t.Fatalf("round %d: event %d is %q, want %q (replay had %d)", round, i, e.ID, want[i], len(sub.Replay))
			}
		}
	}
}

func TestHubReplayN(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 5})
	var evs []*Event
	for i := range 8 {
		evs = append(evs, hubPublish(t, h, strconv.Itoa(i), []string{"a", "b"}[i%2]))
	}
	// History keeps events 3..7; "a" has 4 and 6 there, "b" has 3, 5 and 7.
	tests := []struct {
		name      string
		selectors []string
		replay    int
		want      []int
	}{
		{"last one", []string{"**"}, 1, []int{7}},
		{"last three", []string{"**"}, 3, []int{5, 6, 7}},
		{"capped by history", []string{"**"}, 100, []int{3, 4, 5, 6, 7}},
		{"matching only", []string{"a"}, 2, []int{4, 6}},
		{"matching only, capped", []string{"b"}, 10, []int{3, 5, 7}},
		{"several selectors", []string{"a", "*"}, 4, []int{4, 5, 6, 7}},
		{"no match", []string{"c"}, 3, nil},
		{"zero", []string{"**"}, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.Stats().Replayed
			sub := hubSubscribe(t, h, SubscribeRequest{Selectors: tc.selectors, Replay: tc.replay})
			var want []*Event
			for _, i := range tc.want {
				want = append(want, evs[i])
			}
			if !slices.Equal(sub.Replay, want) || sub.ResetReason != "" {
				t.Fatalf("replay %q (reset %q), want %q", hubData(sub.Replay), sub.ResetReason, hubData(want))
			}
			if got := h.Stats().Replayed - before; got != uint64(len(want)) {
				t.Fatalf("stats count %d replayed, want %d", got, len(want))
			}
		})
	}
}

func TestHubResumeUnknownID(t *testing.T) {
	other := New("other", Settings{History: 10}, Options{})
	defer other.Close()
	otherID := hubPublish(t, other, "x", "a").ID

	tests := []struct {
		name    string
		publish int // events published before subscribing
		id      func(h *Hub, newest string) string
	}{
		{"dollar", 3, func(*Hub, string) string { return "$" }},
		{"plus", 3, func(*Hub, string) string { return "+" }},
		{"zero", 3, func(*Hub, string) string { return "0" }},
		{"plus five", 3, func(*Hub, string) string { return "+5" }},
		{"minus one", 3, func(*Hub, string) string { return "-1" }},
		{"empty", 3, func(*Hub, string) string { return "" }},
		{"8 KB", 3, func(*Hub, string) string { return strings.Repeat("9", 8192) }},
		{"another hub's id", 3, func(*Hub, string) string { return otherID }},
		{"future sequence", 3, func(h *Hub, _ string) string { return idFor(h, 4) }},
		{"far future sequence", 3, func(h *Hub, _ string) string { return idFor(h, 18446744073709551615) }},
		{"another hub's form", 3, func(h *Hub, _ string) string { return h.log.(*memoryLog).ids.ID(Position{Major: 1, Minor: 2}) }},
		{"decimal sequence", 3, func(*Hub, string) string { return "2" }},
		{"22 characters, not base64url", 3, func(*Hub, string) string { return strings.Repeat("+", IDLen) }},
		{"22 characters, stray bits", 3, func(_ *Hub, newest string) string { return newest[:IDLen-1] + "B" }},
		{"a byte short", 3, func(_ *Hub, newest string) string { return newest[:IDLen-1] }},
		{"trailing text", 3, func(_ *Hub, newest string) string { return newest + "x" }},
		{"leading space", 3, func(_ *Hub, newest string) string { return " " + newest }},
		{"empty hub", 0, func(*Hub, string) string { return "$" }},
		{"empty hub, future sequence", 0, func(h *Hub, _ string) string { return idFor(h, 1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHub(t, Settings{History: 10})
			newest := idFor(h, 0)
			for range tc.publish {
				newest = hubPublish(t, h, "x", "a").ID
			}
			sub := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"a"}, LastEventID: tc.id(h, newest), HasLastEventID: true})
			if sub.ResetReason != ReasonUnknownID || sub.NewestID != newest || len(sub.Replay) != 0 {
				t.Fatalf("reason %q, newest %q (want %q), %d replayed", sub.ResetReason, sub.NewestID, newest, len(sub.Replay))
			}
			// The reset's id is a good resume point: nothing is missed from it.
			again := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"a"}, LastEventID: sub.NewestID, HasLastEventID: true})
			if again.ResetReason != "" || len(again.Replay) != 0 {
				t.Fatalf("resume from the reset id: reason %q, %d replayed", again.ResetReason, len(again.Replay))
			}
			// The subscription is live despite the reset.
			live := hubPublish(t, h, "live", "a")
			if got := hubQueued(sub.Subscriber); len(got) != 1 || got[0] != live {
				t.Fatalf("live %q, want [live]", hubData(got))
			}
		})
	}
}

func TestHubHistoryTrim(t *testing.T) {
	// size is the encoded size of each event below: same data, and ids of
	// the same length while the sequence stays below 10.
	probe, _ := newTestHub(t, Settings{History: 1})
	size := int64(hubPublish(t, probe, "payload", "t").Size())

	tests := []struct {
		name     string
		settings Settings
		kept     int // of 6 events published
	}{
		{"by count", Settings{History: 4}, 4},
		{"count above what was published", Settings{History: 100}, 6},
		{"history 0 keeps nothing", Settings{History: 0}, 0},
		{"by size", Settings{History: 100, HistorySize: 3 * size}, 3},
		{"by size, one byte short", Settings{History: 100, HistorySize: 3*size - 1}, 2},
		{"by size, smaller than one event", Settings{History: 100, HistorySize: size - 1}, 0},
		{"count below size", Settings{History: 2, HistorySize: 5 * size}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHub(t, tc.settings)
			var evs []*Event
			for range 6 {
				evs = append(evs, hubPublish(t, h, "payload", "t"))
			}
			if evs[0].Size() != int(size) {
				t.Fatalf("event size %d, want %d", evs[0].Size(), size)
			}
			st := h.Stats()
			if st.HistoryLen != tc.kept || st.HistoryBytes != int64(tc.kept)*size {
				t.Fatalf("history %d events, %d bytes; want %d, %d", st.HistoryLen, st.HistoryBytes, tc.kept, int64(tc.kept)*size)
			}
			checkHistoryWindow(t, h, evs, len(evs)-tc.kept)
		})
	}
}

// checkHistoryWindow checks what a client resuming from each of evs gets
// when evs[first:] are in history: a replay of the later events for an id
// at most one before the window, expired_id for older ones.
func checkHistoryWindow(t *testing.T, h *Hub, evs []*Event, first int) {
	t.Helper()
	for i, e := range evs {
		sub := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"**"}, LastEventID: e.ID, HasLastEventID: true})
		if i+1 < first {
			if sub.ResetReason != ReasonExpiredID || sub.NewestID != evs[len(evs)-1].ID || len(sub.Replay) != 0 {
				t.Errorf("resume after event %d (history from %d): reason %q newest %q, %d replayed; want expired_id", i, first, sub.ResetReason, sub.NewestID, len(sub.Replay))
			}
		} else if sub.ResetReason != "" || !slices.Equal(sub.Replay, evs[i+1:]) {
			t.Errorf("resume after event %d (history from %d): reason %q, replay %q", i, first, sub.ResetReason, hubData(sub.Replay))
		}
		sub.Close()
	}
	st := h.Stats()
	if first < len(evs) && (st.OldestID != evs[first].ID || st.NewestID != evs[len(evs)-1].ID) {
		t.Errorf("stats oldest %q newest %q, want %q and %q", st.OldestID, st.NewestID, evs[first].ID, evs[len(evs)-1].ID)
	}
	if first == len(evs) && (st.HistoryLen != 0 || st.OldestID != "" || st.NewestID != "") {
		t.Errorf("stats with empty history: %+v", st)
	}
}

func TestHubHistoryAge(t *testing.T) {
	h, clock := newTestHub(t, Settings{History: 100, HistoryAge: 1500 * time.Millisecond})
	var evs []*Event
	for i := range 4 {
		if i > 0 {
			clock.Advance(time.Second)
		}
		evs = append(evs, hubPublish(t, h, strconv.Itoa(i), "t"))
	}
	// At t=3s events published at 0s and 1s are older than 1.5s.
	if st := h.Stats(); st.HistoryLen != 2 {
		t.Fatalf("history holds %d events, want 2", st.HistoryLen)
	}
	checkHistoryWindow(t, h, evs, 2)

	// Time alone expires events, with no publish to trigger it.
	clock.Advance(500 * time.Millisecond) // t=3.5s: the 2s event is exactly 1.5s old and stays
	checkHistoryWindow(t, h, evs, 2)
	clock.Advance(time.Millisecond)
	checkHistoryWindow(t, h, evs, 3)
	clock.Advance(time.Hour)
	checkHistoryWindow(t, h, evs, 4)
	if st := h.Stats(); st.HistoryLen != 0 || st.HistoryBytes != 0 {
		t.Fatalf("history after an hour: %+v", st)
	}
}

func TestHubApplyTrims(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 10})
	var evs []*Event
	for i := range 9 {
		evs = append(evs, hubPublish(t, h, strconv.Itoa(i), "t"))
	}
	size := int64(evs[0].Size())

	h.Apply(Settings{History: 5})
	if st := h.Stats(); st.HistoryLen != 5 || h.Settings().History != 5 {
		t.Fatalf("after shrinking history to 5: %d events, settings %+v", st.HistoryLen, h.Settings())
	}
	checkHistoryWindow(t, h, evs, 4)

	h.Apply(Settings{History: 5, HistorySize: 2 * size})
	if st := h.Stats(); st.HistoryLen != 2 || st.HistoryBytes != 2*size {
		t.Fatalf("after shrinking history_size: %+v", st)
	}
	checkHistoryWindow(t, h, evs, 7)

	h.Apply(Settings{History: 0})
	if st := h.Stats(); st.HistoryLen != 0 || st.HistoryBytes != 0 {
		t.Fatalf("after history 0: %+v", st)
	}
	checkHistoryWindow(t, h, evs, 9)

	// Growing the limits keeps what is there and lets history grow again.
	h.Apply(Settings{History: 10})
	evs = append(evs, hubPublish(t, h, "9", "t"))
	checkHistoryWindow(t, h, evs, 9)
}

func TestHubIdempotencyKey(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 3})
	sub := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"**"}})

	first, err := h.Publish(context.Background(), []*Event{hubEvent("one", "t"), hubEvent("two", "t")}, "key-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	before := h.Stats()
	again, err := h.Publish(context.Background(), []*Event{hubEvent("one", "t"), hubEvent("two", "t")}, "key-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again, first) {
		t.Fatalf("retry got ids %q, want the original %q", again, first)
	}
	// A retry with different content still gets the original answer.
	if again, err := h.Publish(context.Background(), []*Event{hubEvent("changed", "u")}, "key-1", 0); err != nil || !slices.Equal(again, first) {
		t.Fatalf("retry with other content: %q, %v; want %q", again, err, first)
	}
	if after := h.Stats(); after != before {
		t.Fatalf("a retry changed the hub: %+v, then %+v", before, after)
	}
	if got := hubData(hubQueued(sub.Subscriber)); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("subscriber received %q, want [one two]", got)
	}

	// Another key, or no key, is a new publish.
	other, err := h.Publish(context.Background(), []*Event{hubEvent("three", "t")}, "key-2", 0)
	if err != nil || slices.Contains(first, other[0]) {
		t.Fatalf("new key got %q, %v", other, err)
	}
	// History (3) now holds one, two, three: key-1 is still known.
	if again, _ := h.Publish(context.Background(), []*Event{hubEvent("one", "t")}, "key-1", 0); !slices.Equal(again, first) {
		t.Fatalf("key-1 while its events are in history: %q, want %q", again, first)
	}
	// "four" pushes "one" out; "two" is still there, and so is the key.
	hubPublish(t, h, "four", "t")
	if again, _ := h.Publish(context.Background(), []*Event{hubEvent("one", "t")}, "key-1", 0); !slices.Equal(again, first) {
		t.Fatalf("key-1 while one of its events is in history: %q, want %q", again, first)
	}
	// "five" pushes "two" out: key-1 is forgotten.
	hubPublish(t, h, "five", "t")
	fresh, err := h.Publish(context.Background(), []*Event{hubEvent("one again", "t")}, "key-1", 0)
	if err != nil || slices.Contains(first, fresh[0]) || idSeq(t, h, fresh[0]) != 6 {
		t.Fatalf("key-1 after its events left history: %q, %v; want a new id", fresh, err)
	}
	if got := hubData(hubQueued(sub.Subscriber)); !slices.Equal(got, []string{"three", "four", "five", "one again"}) {
		t.Fatalf("subscriber received %q", got)
	}
	if st := h.Stats(); st.Published != 6 {
		t.Fatalf("published %d, want 6", st.Published)
	}

	// With no history, a key is forgotten at once.
	none, _ := newTestHub(t, Settings{History: 0})
	a, _ := none.Publish(context.Background(), []*Event{hubEvent("x", "t")}, "k", 0)
	b, _ := none.Publish(context.Background(), []*Event{hubEvent("x", "t")}, "k", 0)
	if slices.Equal(a, b) {
		t.Fatalf("history 0 remembered an idempotency key: %q", a)
	}
}

func TestHubIdempotencyKeyExpiresWithAge(t *testing.T) {
	h, clock := newTestHub(t, Settings{History: 100, HistoryAge: time.Minute})
	first, err := h.Publish(context.Background(), []*Event{hubEvent("x", "t")}, "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if again, _ := h.Publish(context.Background(), []*Event{hubEvent("x", "t")}, "k", 0); !slices.Equal(again, first) {
		t.Fatalf("key forgotten while its event is in history: %q", again)
	}
	// Once the event has expired the key is forgotten, even though nothing
	// was published or subscribed since to trim history.
	clock.Advance(time.Second)
	again, err := h.Publish(context.Background(), []*Event{hubEvent("x", "t")}, "k", 0)
	if err != nil || slices.Equal(again, first) {
		t.Fatalf("key remembered after its event expired: %q, %v", again, err)
	}
	if st := h.Stats(); st.Published != 2 || st.HistoryLen != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHubPublishAtomic(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 100})
	sub := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"**"}})
	proto := hubPublish(t, h, strings.Repeat("x", 100), "t")
	hubQueued(sub.Subscriber)
	size := proto.Size()
	if want := len(proto.Encode()); size != want {
		t.Fatalf("Size() = %d, encoded event is %d bytes", size, want)
	}

	before := h.Stats()
	// The second event of the batch is too large: nothing is stored.
	_, err := h.Publish(context.Background(), []*Event{hubEvent("small", "t"), hubEvent(strings.Repeat("x", 101), "t")}, "batch", size)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized batch: %v, want ErrEventTooLarge", err)
	}
	_, err = h.Publish(context.Background(), []*Event{hubEvent(strings.Repeat("x", 100), "t")}, "", size-1)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("event one byte over the limit: %v, want ErrEventTooLarge", err)
	}
	if after := h.Stats(); after != before {
		t.Fatalf("a refused publish changed the hub: %+v, then %+v", before, after)
	}
	if got := hubQueued(sub.Subscriber); len(got) != 0 {
		t.Fatalf("subscriber received %q from a refused publish", hubData(got))
	}

	// Exactly at the limit is accepted, and takes the next id: the refused
	// publishes used none.
	ids, err := h.Publish(context.Background(), []*Event{hubEvent(strings.Repeat("x", 100), "t")}, "", size)
	if err != nil {
		t.Fatalf("event exactly at the limit: %v", err)
	}
	if idSeq(t, h, ids[0]) != idSeq(t, h, proto.ID)+1 {
		t.Fatalf("id %q after %q", ids[0], proto.ID)
	}
	// The idempotency key of the refused batch was not remembered.
	batch, err := h.Publish(context.Background(), []*Event{hubEvent("small", "t"), hubEvent("small too", "t")}, "batch", size)
	if err != nil || len(batch) != 2 || idSeq(t, h, batch[0]) != idSeq(t, h, ids[0])+1 {
		t.Fatalf("batch after the refused one: %q, %v", batch, err)
	}
	got := hubQueued(sub.Subscriber)
	if len(got) != 3 || got[0].Size() != size || got[1].Data != "small" || got[2].Data != "small too" {
		t.Fatalf("subscriber received %q", hubData(got))
	}
	if st := h.Stats(); st.Published != before.Published+3 || st.HistoryLen != before.HistoryLen+3 {
		t.Fatalf("stats after accepted publishes: %+v", st)
	}
}

func TestHubCapacity(t *testing.T) {
	t.Run("max_subscribers", func(t *testing.T) {
		h, _ := newTestHub(t, Settings{MaxSubscribers: 2})
		a := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t"}, Client: "a"})
		hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t"}, Client: "b"})
		if _, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, Client: "c", Buffer: 1}); !errors.Is(err, ErrCapacity) {
			t.Fatalf("third subscriber: %v, want ErrCapacity", err)
		}
		a.Close()
		a.Close() // idempotent: frees one slot, not two
		hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t"}, Client: "c"})
		if _, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, Client: "d", Buffer: 1}); !errors.Is(err, ErrCapacity) {
			t.Fatalf("after one close and one new subscriber: %v, want ErrCapacity", err)
		}
		if st := h.Stats(); st.Subscribers != 2 {
			t.Fatalf("%d subscribers, want 2", st.Subscribers)
		}
	})
	t.Run("max_per_client", func(t *testing.T) {
		h, _ := newTestHub(t, Settings{})
		req := func(client string) SubscribeRequest {
			return SubscribeRequest{Selectors: []string{"t"}, Client: client, MaxPerClient: 2, Buffer: 1}
		}
		a1 := hubSubscribe(t, h, req("alice"))
		hubSubscribe(t, h, req("alice"))
		if _, err := h.Subscribe(req("alice")); !errors.Is(err, ErrCapacity) {
			t.Fatalf("third stream of alice: %v, want ErrCapacity", err)
		}
		hubSubscribe(t, h, req("bob")) // other clients are not affected
		hubSubscribe(t, h, req("bob"))
		// A hub-side disconnect frees the slot too.
		if !h.Disconnect(a1.ID, "operator", 0) {
			t.Fatal("Disconnect did not find the subscriber")
		}
		hubSubscribe(t, h, req("alice"))
		if _, err := h.Subscribe(req("alice")); !errors.Is(err, ErrCapacity) {
			t.Fatalf("alice after one disconnect and one new stream: %v, want ErrCapacity", err)
		}
		// MaxPerClient 0 means unlimited.
		for range 5 {
			hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t"}, Client: "alice", Buffer: 1})
		}
	})
}

func TestHubSlowConsumer(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 100})
	slow := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t"}, Buffer: 2})
	fast := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t", "*"}, Buffer: 1})

	var received []string
	for i := range 5 {
		hubPublish(t, h, strconv.Itoa(i), "t")
		if i < 2 && hubDone(slow.Subscriber) {
			t.Fatalf("slow subscriber dropped after %d events with a buffer of 2", i+1)
		}
		// The fast one reads every event before the next is published.
		received = append(received, hubData(hubQueued(fast.Subscriber))...)
	}
	if !hubDone(slow.Subscriber) {
		t.Fatal("a subscriber that does not read is still subscribed")
	}
	if slow.Reason() != ReasonSlow {
		t.Fatalf("reason %q, want %q", slow.Reason(), ReasonSlow)
	}
	if got := hubData(hubQueued(slow.Subscriber)); !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("slow subscriber's queue holds %q, want the 2 events before the drop", got)
	}
	if !slices.Equal(received, []string{"0", "1", "2", "3", "4"}) {
		t.Fatalf("fast subscriber received %q", received)
	}
	if hubDone(fast.Subscriber) {
		t.Fatalf("fast subscriber was dropped: %s", fast.Reason())
	}
	if st := h.Stats(); st.Dropped != 1 || st.Subscribers != 1 || st.Topics != 2 {
		t.Fatalf("stats %+v", st)
	}
	// The slow client resumes from history without a gap.
	resumed := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t"}, LastEventID: idFor(h, 2), HasLastEventID: true})
	if resumed.ResetReason != "" || !slices.Equal(hubData(resumed.Replay), []string{"2", "3", "4"}) {
		t.Fatalf("resume after the drop: reason %q, replay %q", resumed.ResetReason, hubData(resumed.Replay))
	}
}

func TestHubDisconnect(t *testing.T) {
	h, _ := newTestHub(t, Settings{})
	a := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t"}})
	b := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"t"}})
	if !h.Disconnect(a.ID, "kicked", 0) {
		t.Fatal("Disconnect did not find the subscriber")
	}
	if !hubDone(a.Subscriber) {
		t.Fatal("Done not closed by Disconnect")
	}
	if a.Reason() != "kicked" {
		t.Fatalf("reason %q, want kicked", a.Reason())
	}
	if hubDone(b.Subscriber) {
		t.Fatal("Disconnect ended another subscriber")
	}
	if h.Disconnect(a.ID, "again", 0) || h.Disconnect(9999, "none", 0) {
		t.Fatal("Disconnect reported a subscriber that is gone or never was")
	}
	if a.Reason() != "kicked" {
		t.Fatalf("a second Disconnect changed the reason to %q", a.Reason())
	}
	hubPublish(t, h, "x", "t")
	if got := hubQueued(a.Subscriber); len(got) != 0 {
		t.Fatalf("disconnected subscriber received %q", hubData(got))
	}
	if got := hubQueued(b.Subscriber); len(got) != 1 {
		t.Fatalf("remaining subscriber received %q", hubData(got))
	}
	a.Close() // closing after a disconnect is harmless
	if st := h.Stats(); st.Subscribers != 1 || st.Dropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A subscriber closing itself is not a drop.
	b.Close()
	if !hubDone(b.Subscriber) {
		t.Fatal("Done not closed by Close")
	}
	if b.Reason() != "" {
		t.Fatalf("self-closed subscriber has reason %q", b.Reason())
	}
	if st := h.Stats(); st.Subscribers != 0 || st.Dropped != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHubClose(t *testing.T) {
	h := New("closing", Settings{History: 10}, Options{})
	subs := []*Subscription{
		hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"a"}}),
		hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"**"}}),
	}
	hubPublish(t, h, "x", "a")
	h.Close()
	for i, s := range subs {
		if !hubDone(s.Subscriber) {
			t.Fatalf("subscriber %d still open after Close", i)
		}
		if s.Reason() != ReasonHubClosed {
			t.Fatalf("subscriber %d: reason %q, want %q", i, s.Reason(), ReasonHubClosed)
		}
	}
	if _, err := h.Subscribe(SubscribeRequest{Selectors: []string{"a"}, Buffer: 1}); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrHubClosed", err)
	}
	if _, err := h.Publish(context.Background(), []*Event{hubEvent("x", "a")}, "", 0); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Publish after Close: %v, want ErrHubClosed", err)
	}
	h.Close() // closing twice is harmless
	if st := h.Stats(); st.Subscribers != 0 || st.Topics != 0 || st.HistoryLen != 0 || st.HistoryBytes != 0 || st.Dropped != 2 || st.Published != 1 {
		t.Fatalf("stats after Close: %+v", st)
	}
}

// TestHubStats runs a scenario and checks every counter against it, then
// that the indexes are empty once every subscriber has gone.
func TestHubStats(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 4})
	if st := h.Stats(); st != (Stats{Name: "test"}) {
		t.Fatalf("new hub stats %+v", st)
	}
	a := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"orders/1", "orders/*"}, Client: "alice", MaxPerClient: 1})
	b := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"orders/*", "logs/**"}, Client: "bob"})
	c := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"x"}, Buffer: 1})
	if st := h.Stats(); st.Subscribers != 3 || st.Topics != 4 {
		t.Fatalf("after 3 subscribes: %+v", st)
	}
	var last *Event
	for i := range 6 {
		last = hubPublish(t, h, strconv.Itoa(i), "orders/1")
	}
	hubPublish(t, h, "x1", "x")
	hubPublish(t, h, "x2", "x") // c has a buffer of 1: dropped
	a.Delivered(len(hubQueued(a.Subscriber)))
	d := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"orders/**"}, Replay: 10})
	st := h.Stats()
	want := Stats{
		Name: "test", Subscribers: 3, Topics: 4, // orders/1, orders/*, logs/**, orders/**
		Published: 8, Delivered: 6, Replayed: 2, Dropped: 1,
		HistoryLen: 4, HistoryBytes: st.HistoryBytes,
		OldestID: idFor(h, 5), NewestID: idFor(h, 8),
	}
	if st != want {
		t.Fatalf("stats\n%+v\nwant\n%+v", st, want)
	}
	if st.HistoryBytes <= 0 {
		t.Fatalf("history bytes %d", st.HistoryBytes)
	}
	if len(d.Replay) != 2 || d.Replay[1] != last {
		t.Fatalf("replay %q", hubData(d.Replay))
	}

	a.Close()
	b.Close()
	c.Close()
	d.Close()
	st = h.Stats()
	if st.Subscribers != 0 || st.Topics != 0 {
		t.Fatalf("after every subscriber left: %+v", st)
	}
	if len(h.index.exact) != 0 || h.index.patterns.children != 0 || len(h.index.patterns.literal) != 0 ||
		h.index.patterns.star != nil || h.index.patterns.anyTail != nil || h.index.selectors != 0 || len(h.subs) != 0 || len(h.perClient) != 0 {
		t.Fatalf("indexes not empty: exact %v, patterns %+v, selectors %d, subs %v, per client %v",
			h.index.exact, h.index.patterns, h.index.selectors, h.subs, h.perClient)
	}
	// alice's slot is free again.
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"orders/1"}, Client: "alice", MaxPerClient: 1})
}

// idFor returns the id a memory hub gives its n-th event.
func idFor(h *Hub, n uint64) string { return h.log.FormatID(Position{Minor: n}) }

// TestHubResetRevealsNoOtherTopic: the id a reset hands a client is that
// of the newest event it may see, never that of an event on a topic it
// may not, which would tell it of that event.
func TestHubResetRevealsNoOtherTopic(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 10})
	visible := hubPublish(t, h, "news", "pub/news")
	hubPublish(t, h, "secret", "secret/x")
	sub := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"pub/**"}, LastEventID: "junk", HasLastEventID: true})
	if sub.ResetReason != ReasonUnknownID || sub.NewestID != visible.ID {
		t.Fatalf("reset %q with id %q, want unknown_id with the newest visible id %q", sub.ResetReason, sub.NewestID, visible.ID)
	}
	// With nothing visible in history, the id is the hub's current
	// position: resuming from it gets every event after it.
	none := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"other"}, LastEventID: "junk", HasLastEventID: true})
	next := hubPublish(t, h, "later", "other")
	again := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"other"}, LastEventID: none.NewestID, HasLastEventID: true})
	if again.ResetReason != "" || len(again.Replay) != 1 || again.Replay[0].ID != next.ID {
		t.Fatalf("resume from the reset's id: reason %q, replay %v; want the later event", again.ResetReason, hubData(again.Replay))
	}
}
