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
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
)

// fakeTimers is an AfterFunc on a hubClock: timers fire when the test
// advances the clock past them, on the test's goroutine.
type fakeTimers struct {
	clock  *hubClock
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	due     time.Time
	f       func()
	stopped bool
	ft      *fakeTimers
}

func (t *fakeTimer) Stop() bool {
	t.ft.mu.Lock()
	defer t.ft.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (ft *fakeTimers) AfterFunc(d time.Duration, f func()) Timer {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t := &fakeTimer{due: ft.clock.Now().Add(d), f: f, ft: ft}
	ft.timers = append(ft.timers, t)
	return t
}

// Advance moves the clock and fires, in order, the timers due by then.
func (ft *fakeTimers) Advance(d time.Duration) {
	ft.clock.Advance(d)
	for {
		now := ft.clock.Now()
		ft.mu.Lock()
		var next *fakeTimer
		for _, t := range ft.timers {
			if !t.stopped && !t.due.After(now) && (next == nil || t.due.Before(next.due)) {
				next = t
			}
		}
		if next != nil {
			next.stopped = true
		}
		ft.mu.Unlock()
		if next == nil {
			return
		}
		next.f()
	}
}

// presenceLog records what an observer was told.
type presenceLog struct {
	mu     sync.Mutex
	events []PresenceEvent
}

func (l *presenceLog) observe(e PresenceEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns the events so far, as "type topic identity count" lines
// (connect and disconnect as "type identity reason"), and forgets them.
func (l *presenceLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		switch e.Type {
		case PresenceConnect:
			out = append(out, fmt.Sprintf("connect %s", e.Identity))
		case PresenceDisconnect:
			out = append(out, fmt.Sprintf("disconnect %s %s", e.Identity, e.Reason))
		case PresenceJoin, PresenceLeave:
			out = append(out, fmt.Sprintf("%s %s %s %d", e.Type, e.Topic, e.Identity, e.Count))
		default:
			out = append(out, fmt.Sprintf("%s %s", e.Type, e.Topic))
		}
	}
	l.events = nil
	return out
}

// newPresenceHub returns a hub tracking presence on a fake clock and
// timers, with an observer recording its events.
func newPresenceHub(t testing.TB, s Settings) (*Hub, *fakeTimers, *presenceLog) {
	t.Helper()
	clock := newHubClock()
	ft := &fakeTimers{clock: clock}
	log := new(presenceLog)
	h := New("test", s, Options{Now: clock.Now, AfterFunc: ft.AfterFunc, Observer: log.observe})
	t.Cleanup(h.Close)
	return h, ft, log
}

func wantEvents(t *testing.T, log *presenceLog, want ...string) {
	t.Helper()
	got := log.take()
	if !slices.Equal(got, want) {
		t.Fatalf("presence events:\n got %q\nwant %q", got, want)
	}
}

func wantMembers(t *testing.T, h *Hub, topic string, anonymous int, want ...string) PresenceInfo {
	t.Helper()
	info, ok := h.Presence(topic)
	if !ok {
		t.Fatal("hub does not track presence")
	}
	var got []string
	for _, m := range info.Members {
		got = append(got, fmt.Sprintf("%s:%d", m.Identity, m.Streams))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || info.Anonymous != anonymous || info.Count != len(want) || info.Topic != topic {
		t.Fatalf("presence of %q: members %q, anonymous %d, count %d; want %q, %d", topic, got, info.Anonymous, info.Count, want, anonymous)
	}
	return info
}

func TestPresenceJoinLeaveGrace(t *testing.T) {
	grace := 3 * time.Second
	h, ft, log := newPresenceHub(t, Settings{Presence: true, PresenceGrace: grace})

	a1 := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"})
	wantEvents(t, log, "occupied room", "join room alice 1", "connect alice")
	since := wantMembers(t, h, "room", 0, "alice:1").Members[0].Since

	a2 := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"})
	wantEvents(t, log, "connect alice") // a second tab is no join
	wantMembers(t, h, "room", 0, "alice:2")

	a1.Close()
	wantEvents(t, log, "disconnect alice client_gone")
	ft.Advance(time.Hour)
	wantEvents(t, log) // one of two closed: no leave
	wantMembers(t, h, "room", 0, "alice:1")

	a2.End(ReasonWriteFailed)
	wantEvents(t, log, "disconnect alice write_failed")
	ft.Advance(grace - time.Nanosecond)
	wantEvents(t, log) // still within the grace
	info := wantMembers(t, h, "room", 0, "alice:0")
	if !info.Members[0].Since.Equal(since) {
		t.Fatalf("since %v, want %v", info.Members[0].Since, since)
	}
	ft.Advance(time.Nanosecond) // the grace has passed, exactly
	wantEvents(t, log, "leave room alice 0", "vacated room")
	wantMembers(t, h, "room", 0)
	if topics, _ := h.PresenceTopics(); len(topics) != 0 {
		t.Fatalf("topics after everyone left: %+v", topics)
	}
}

func TestPresenceReconnectWithinGrace(t *testing.T) {
	grace := 5 * time.Second
	h, ft, log := newPresenceHub(t, Settings{Presence: true, PresenceGrace: grace})
	a := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"})
	since := wantMembers(t, h, "room", 0, "alice:1").Members[0].Since
	log.take()

	a.Close()
	ft.Advance(grace - time.Second)
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"})
	ft.Advance(time.Hour)
	// A reconnect or a reload within the grace: no leave, no join, no
	// vacate, no occupied, and the member is there since it first came.
	wantEvents(t, log, "disconnect alice client_gone", "connect alice")
	info := wantMembers(t, h, "room", 0, "alice:1")
	if !info.Members[0].Since.Equal(since) {
		t.Fatalf("since %v, want %v", info.Members[0].Since, since)
	}
}

// Churn within the grace grows nothing and moves the deadline: a member
// who comes back and goes again gets a full grace from its last close.
func TestPresenceGraceFromLastClose(t *testing.T) {
	grace := 10 * time.Second
	h, ft, log := newPresenceHub(t, Settings{Presence: true, PresenceGrace: grace})
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"}).Close()
	for range 100 {
		ft.Advance(time.Second)
		hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"}).Close()
	}
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "bob"}).Close()
	log.take()
	if n := len(h.pres.queue); n != 3 {
		t.Fatalf("%d entries in the grace queue after churn, want 3 (alice, bob, the topic)", n)
	}
	ft.Advance(grace - time.Nanosecond)
	wantEvents(t, log)
	ft.Advance(time.Nanosecond)
	wantEvents(t, log, "leave room bob 1", "leave room alice 0", "vacated room")

	// A shorter grace from a reload applies to what closes after it,
	// ahead of what closed before.
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"a"}, Identity: "carol"}).Close()
	h.Apply(Settings{Presence: true, PresenceGrace: time.Second})
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"b"}, Identity: "dave"}).Close()
	log.take()
	ft.Advance(time.Second)
	wantEvents(t, log, "leave b dave 0", "vacated b")
	ft.Advance(grace)
	wantEvents(t, log, "leave a carol 0", "vacated a")
	// Occupied again after vacated.
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"a"}})
	wantEvents(t, log, "occupied a", "connect ")
}

func TestPresenceDefaultGrace(t *testing.T) {
	h, ft, log := newPresenceHub(t, Settings{Presence: true})
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"}).Close()
	log.take()
	ft.Advance(DefaultPresenceGrace - time.Nanosecond)
	wantEvents(t, log)
	ft.Advance(time.Nanosecond)
	wantEvents(t, log, "leave room alice 0", "vacated room")
}

func TestPresenceDeadStreamsLeave(t *testing.T) {
	grace := time.Second
	h, ft, log := newPresenceHub(t, Settings{Presence: true, PresenceGrace: grace})
	// A slow consumer, dropped by the hub while publishing.
	slow := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "slow", Buffer: 1})
	// One dropped by an operator.
	cut := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "cut"})
	log.take()
	hubPublish(t, h, "1", "room")
	hubPublish(t, h, "2", "room")
	if !hubDone(slow.Subscriber) {
		t.Fatal("slow subscriber not dropped")
	}
	h.Disconnect(cut.ID, ReasonDisconnected, 0)
	wantEvents(t, log, "disconnect slow slow_consumer", "disconnect cut disconnected")
	wantMembers(t, h, "room", 0, "cut:0", "slow:0")
	ft.Advance(grace)
	wantEvents(t, log, "leave room slow 1", "leave room cut 0", "vacated room")
}

func TestPresenceAnonymousAndPatterns(t *testing.T) {
	h, ft, log := newPresenceHub(t, Settings{Presence: true, PresenceGrace: time.Second})
	anon1 := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}})
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}})
	// Patterns make no member and occupy nothing, even when they match.
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room/*", "**", "r/**"}, Identity: "watcher"})
	// One stream on several exact topics is on each.
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"lobby", "room", "room/*"}, Identity: "bob"})
	wantEvents(t, log, "occupied room", "connect ", "connect ", "connect watcher",
		"occupied lobby", "join lobby bob 1", "join room bob 1", "connect bob")
	wantMembers(t, h, "room", 2, "bob:1")
	wantMembers(t, h, "lobby", 0, "bob:1")
	wantMembers(t, h, "room/x", 0)
	topics, ok := h.PresenceTopics()
	want := []TopicPresence{{Topic: "lobby", Count: 1, Streams: 1}, {Topic: "room", Count: 1, Anonymous: 2, Streams: 3}}
	if !ok || !slices.Equal(topics, want) {
		t.Fatalf("topics %+v, want %+v", topics, want)
	}
	anon1.Close()
	ft.Advance(time.Hour)
	wantEvents(t, log, "disconnect  client_gone") // anonymous streams are counted, never join or leave
	wantMembers(t, h, "room", 1, "bob:1")
}

func TestPresenceWatchers(t *testing.T) {
	grace := time.Second
	h, ft, _ := newPresenceHub(t, Settings{Presence: true, PresenceGrace: grace})
	w := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room", "other/*"}, Identity: "watcher", Presence: true})
	quiet := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "quiet"})
	bob := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "bob"})
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"other/1"}, Identity: "carol"}) // a pattern: not watched
	bob.Close()
	ft.Advance(grace)

	var got []string
	for _, e := range hubQueued(w.Subscriber) {
		if e.ID != "" {
			t.Fatalf("presence event with id %q", e.ID)
		}
		var data struct {
			Topic, Identity string
			Count           int
		}
		if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d", e.Type, data.Topic, data.Identity, data.Count))
		if wire := string(e.Wire()); strings.Contains(wire, "id:") || !strings.HasPrefix(wire, "event: "+e.Type+"\ntopic: room\ndata: {") {
			t.Fatalf("wire %q", wire)
		}
	}
	want := []string{"sse.join room watcher 1", "sse.join room quiet 2", "sse.join room bob 3", "sse.leave room bob 2"}
	if !slices.Equal(got, want) {
		t.Fatalf("watcher got %q, want %q", got, want)
	}
	if evs := hubQueued(quiet.Subscriber); len(evs) != 0 {
		t.Fatalf("a stream without presence=on got %d events", len(evs))
	}
	// Nothing of it reaches history.
	if st := h.Stats(); st.HistoryLen != 0 || st.Published != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPresenceSlowWatcherDropped(t *testing.T) {
	h, _, log := newPresenceHub(t, Settings{Presence: true})
	// Room for its own join and one more event.
	w := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "watcher", Presence: true, Buffer: 2})
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "a"})
	if hubDone(w.Subscriber) {
		t.Fatal("watcher dropped with room left in its queue")
	}
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "b"})
	if !hubDone(w.Subscriber) || w.Reason() != ReasonSlow {
		t.Fatal("watcher with a full queue not dropped as slow")
	}
	wantEvents(t, log, "occupied room", "join room watcher 1", "connect watcher",
		"join room a 2", "connect a", "join room b 3", "connect b", "disconnect watcher slow_consumer")
	wantMembers(t, h, "room", 0, "a:1", "b:1", "watcher:0")
}

func TestPresenceOff(t *testing.T) {
	h, _ := newTestHub(t, Settings{})
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice", Presence: true})
	if _, ok := h.Presence("room"); ok {
		t.Fatal("Presence answered with presence off")
	}
	if _, ok := h.PresenceTopics(); ok || h.Tracking() {
		t.Fatal("tracking with presence off")
	}
	if h.pres != nil {
		t.Fatal("presence state with presence off")
	}
}

func TestPresenceApplyAndObserver(t *testing.T) {
	clock := newHubClock()
	ft := &fakeTimers{clock: clock}
	h := New("test", Settings{}, Options{Now: clock.Now, AfterFunc: ft.AfterFunc})
	defer h.Close()
	a := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"})

	// Turned on by a reload: streams already open are members, silently.
	h.Apply(Settings{Presence: true, PresenceGrace: time.Second})
	wantMembers(t, h, "room", 0, "alice:1")
	log := new(presenceLog)
	h.SetObserver(log.observe)
	wantEvents(t, log)
	a.Close()
	ft.Advance(time.Second)
	wantEvents(t, log, "disconnect alice client_gone", "leave room alice 0", "vacated room")

	// Off again, with an observer: occupancy is still tracked for it.
	h.Apply(Settings{})
	if !h.Tracking() {
		t.Fatal("not tracking with an observer")
	}
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}})
	wantEvents(t, log, "occupied room", "connect ")
	h.SetObserver(nil)
	if h.Tracking() {
		t.Fatal("tracking with presence off and no observer")
	}
}

// An observer may query the hub: it is never called with the lock held.
func TestPresenceObserverOutsideLock(t *testing.T) {
	var h *Hub
	counts := make(chan int, 10)
	h = New("test", Settings{Presence: true}, Options{Observer: func(e PresenceEvent) {
		if e.Type == PresenceJoin {
			info, _ := h.Presence(e.Topic)
			counts <- info.Count
		}
	}})
	defer h.Close()
	hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"room"}, Identity: "alice"})
	if n := <-counts; n != 1 {
		t.Fatalf("observer saw %d members", n)
	}
}

// With the real clock and many goroutines, every join is followed by its
// leave and the observer sees them in order.
func TestPresenceConcurrent(t *testing.T) {
	var mu sync.Mutex
	joined := map[string]bool{}
	var bad []string
	h := New("test", Settings{Presence: true, PresenceGrace: time.Millisecond}, Options{Observer: func(e PresenceEvent) {
		mu.Lock()
		defer mu.Unlock()
		key := e.Topic + "/" + e.Identity
		switch e.Type {
		case PresenceJoin:
			if joined[key] {
				bad = append(bad, "double join "+key)
			}
			joined[key] = true
		case PresenceLeave:
			if !joined[key] {
				bad = append(bad, "leave without join "+key)
			}
			delete(joined, key)
		}
	}})
	defer h.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				s, err := h.Subscribe(SubscribeRequest{Selectors: []string{fmt.Sprintf("t/%d", i%3)}, Identity: fmt.Sprint(g % 3), Buffer: 8})
				if err != nil {
					t.Error(err)
					return
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	ssetest.PollUntil(t, 10*time.Second, "every member to leave", func() bool {
		topics, _ := h.PresenceTopics()
		return len(topics) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 || len(joined) > 0 {
		t.Fatalf("out of order: %q; still joined: %v", bad, joined)
	}
}
