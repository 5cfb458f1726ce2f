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
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sharedLog is a Log as a shared one behaves, without a store: the test
// delivers through its sink as the log's reader would. Ids are
// <major>-<minor>, and an id up to 10 s ahead of the clock may arrive.
type sharedLog struct {
	sink Sink
	// keyless makes ParseID fail until the first load, as the Redis log,
	// whose id key comes with its first load, does.
	keyless bool
	loaded  bool
}

func (l *sharedLog) Open(s Sink) { l.sink = s }
func (*sharedLog) Start()        {}
func (*sharedLog) Close()        {}
func (*sharedLog) Append(context.Context, []*Event, string, int) ([]string, error) {
	return nil, ErrUnavailable
}
func (*sharedLog) Status() *TransportStatus { return &TransportStatus{Name: "fake"} }
func (*sharedLog) FormatID(p Position) string {
	return strconv.FormatUint(p.Major, 10) + "-" + strconv.FormatUint(p.Minor, 10)
}
func (l *sharedLog) ParseID(id string) (Position, bool) {
	if l.keyless && !l.loaded {
		return Position{}, false
	}
	a, b, ok := strings.Cut(id, "-")
	major, err1 := strconv.ParseUint(a, 10, 64)
	minor, err2 := strconv.ParseUint(b, 10, 64)
	return Position{major, minor}, ok && err1 == nil && err2 == nil
}
func (*sharedLog) MayArrive(p Position) bool {
	return p.Major <= uint64(time.Now().Add(10*time.Second).UnixMilli())
}

func (l *sharedLog) load(events []*Event, base Position, gap bool) {
	l.loaded = true
	l.sink.Deliver(Delivery{Events: events, Reload: true, Base: base, Gap: gap})
}

func (l *sharedLog) ingest(events []*Event) { l.sink.Deliver(Delivery{Events: events}) }

func newTransportHub(history int) (*Hub, *sharedLog) {
	log := &sharedLog{}
	h := New("x", Settings{History: history}, Options{Log: log})
	h.loadWait = 0
	return h, log
}

// streamEvents makes events with ids <ms>-0 for each ms, on topic t.
func streamEvents(ms ...uint64) []*Event {
	var out []*Event
	for _, m := range ms {
		id := fmt.Sprintf("%d-0", m)
		body := (&Event{Topics: []string{"t"}, Data: id}).Body()
		out = append(out, NewStoredEvent(id, Position{m, 0}, time.UnixMilli(int64(m)), []string{"t"}, body))
	}
	return out
}

func takeIDs(s *Subscriber) string {
	var ids []string
	for _, e := range s.Take(nil) {
		ids = append(ids, e.ID)
	}
	return strings.Join(ids, " ")
}

func TestSharedLogResumeBeforeLoad(t *testing.T) {
	h, log := newTransportHub(10)
	resumed, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "5-0", HasLastEventID: true, Buffer: 100})
	if err != nil || resumed.ResetReason != "" || len(resumed.Replay) != 0 {
		t.Fatalf("resume before load: %+v, %v", resumed, err)
	}
	fresh, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, Buffer: 100})
	expired, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "1-0", HasLastEventID: true, Buffer: 100})

	log.load(streamEvents(3, 4, 5, 6, 7), Position{2, 0}, false)
	if got := takeIDs(resumed.Subscriber); got != "6-0 7-0" {
		t.Errorf("resumed subscriber got %q from the load, want 6-0 7-0", got)
	}
	if got := takeIDs(fresh.Subscriber); got != "" {
		t.Errorf("fresh subscriber got %q from the load, want nothing", got)
	}
	select {
	case <-expired.Done():
		if expired.Reason() != ReasonExpiredID {
			t.Errorf("expired resume ended with %q", expired.Reason())
		}
	default:
		t.Error("a resume from before the loaded history was not ended")
	}

	log.ingest(streamEvents(7, 8))
	if got := takeIDs(resumed.Subscriber); got != "8-0" {
		t.Errorf("resumed subscriber got %q live, want 8-0", got)
	}
	if got := takeIDs(fresh.Subscriber); got != "8-0" {
		t.Errorf("fresh subscriber got %q live, want 8-0", got)
	}
}

func TestSharedLogFutureAndGap(t *testing.T) {
	h, log := newTransportHub(3)
	log.load(streamEvents(10, 11, 12, 13), Position{9, 0}, false)
	// History of 3 holds 11..13: 10 is gone.
	sub, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "10-0", HasLastEventID: true, Buffer: 10})
	if sub.ResetReason != "" || len(sub.Replay) != 3 {
		t.Fatalf("resume at the edge of history: reset %q, %d replayed", sub.ResetReason, len(sub.Replay))
	}
	old, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "9-5", HasLastEventID: true, Buffer: 10})
	if old.ResetReason != ReasonExpiredID || old.NewestID != "13-0" {
		t.Fatalf("resume past history: %q %q", old.ResetReason, old.NewestID)
	}
	// An id newer than anything read here, published elsewhere a moment ago.
	now := uint64(time.Now().UnixMilli())
	future, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: fmt.Sprintf("%d-0", now), HasLastEventID: true, Buffer: 10})
	if future.ResetReason != "" {
		t.Fatalf("recent future id: reset %q", future.ResetReason)
	}
	far, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: fmt.Sprintf("%d-0", now+3600_000), HasLastEventID: true, Buffer: 10})
	if far.ResetReason != ReasonUnknownID {
		t.Fatalf("id an hour ahead: reset %q", far.ResetReason)
	}
	log.ingest(streamEvents(now-1, now, now+1))
	if got := takeIDs(future.Subscriber); got != fmt.Sprintf("%d-0", now+1) {
		t.Errorf("future resume got %q", got)
	}
	// A gap ends every stream so that clients resume and learn of it.
	log.load(streamEvents(now+5), Position{now + 4, 0}, true)
	select {
	case <-future.Done():
		if future.Reason() != ReasonGap {
			t.Errorf("gap ended the stream with %q", future.Reason())
		}
	default:
		t.Error("a gap left a stream open")
	}
}

func TestSharedLogFirstLoadGivesLiveSubscribersWhatCameAfterThem(t *testing.T) {
	// The log could not be read when these subscribed: its first load
	// gives them what it stored after Live, and nothing before.
	for _, tt := range []struct {
		name string
		live Position
		want string
	}{
		{"after Live", Position{4, 0}, "5-0 6-0"},
		{"no Live", Position{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, log := newTransportHub(10)
			fresh, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, Buffer: 100})
			if err != nil {
				t.Fatal(err)
			}
			log.sink.Deliver(Delivery{Events: streamEvents(3, 4, 5, 6), Reload: true, Base: Position{2, 0}, Live: tt.live})
			if got := takeIDs(fresh.Subscriber); got != tt.want {
				t.Errorf("got %q from the first load, want %q", got, tt.want)
			}
			log.ingest(streamEvents(7))
			if got := takeIDs(fresh.Subscriber); got != "7-0" {
				t.Errorf("got %q live, want 7-0", got)
			}
			// A later subscriber is not given what the load held.
			later, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, Buffer: 100})
			log.ingest(streamEvents(8))
			if got := takeIDs(later.Subscriber); got != "8-0" {
				t.Errorf("later subscriber got %q, want 8-0", got)
			}
		})
	}
}

func TestSharedLogHorizon(t *testing.T) {
	h, log := newTransportHub(10)
	// Resumed before the first load, after an event the log lost.
	lost, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "40-0", HasLastEventID: true, Buffer: 10})
	log.sink.Deliver(Delivery{Events: streamEvents(10, 20, 30), Reload: true, Base: Position{9, 0}, Horizon: Position{100, 0}})
	select {
	case <-lost.Done():
		if lost.Reason() != ReasonUnknownID {
			t.Errorf("a resume past the settled log ended with %q", lost.Reason())
		}
	default:
		t.Error("a resume past the settled log waits for events that will never come")
	}
	for _, tt := range []struct {
		id, reason string
		replay     int
	}{
		{"9-0", "", 3},                                   // base: everything after it
		{"20-0", "", 1},                                  // in history
		{"15-0", string(ReasonUnknownID), 0},             // within history, not an event of it
		{"50-0", string(ReasonUnknownID), 0},             // past history, at or before the horizon
		{"100-0", string(ReasonUnknownID), 0},            // at the horizon
		{"8-0", string(ReasonExpiredID), 0},              // before history
		{"100-1", "", 0},                                 // past the horizon: may still arrive
		{"99999999999999-0", string(ReasonUnknownID), 0}, // far future
	} {
		sub, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: tt.id, HasLastEventID: true, Buffer: 10})
		if err != nil {
			t.Fatal(err)
		}
		if string(sub.ResetReason) != tt.reason || len(sub.Replay) != tt.replay {
			t.Errorf("resume after %s: reset %q, %d replayed; want %q, %d", tt.id, sub.ResetReason, len(sub.Replay), tt.reason, tt.replay)
		}
		if tt.reason != "" && sub.NewestID != "30-0" {
			t.Errorf("resume after %s: reset with newest id %q, want 30-0", tt.id, sub.NewestID)
		}
		sub.Close()
	}
	// The horizon only moves forward.
	log.sink.Deliver(Delivery{Horizon: Position{50, 0}})
	if sub, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "60-0", HasLastEventID: true, Buffer: 10}); sub.ResetReason != ReasonUnknownID {
		t.Errorf("a smaller horizon moved it back: reset %q", sub.ResetReason)
	}
}

// TestSharedLogResumeIDReadAtFirstLoad: a log that reads its ids only
// once loaded (the Redis log's key comes with its first load) still
// replays to a client that resumed before that load.
func TestSharedLogResumeIDReadAtFirstLoad(t *testing.T) {
	h, log := newTransportHub(10)
	defer h.Close()
	log.keyless = true
	resumed, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "5-0", HasLastEventID: true, Buffer: 100})
	if err != nil || resumed.ResetReason != "" {
		t.Fatalf("resume before the log can read ids: %+v, %v", resumed, err)
	}
	junk, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "junk", HasLastEventID: true, Buffer: 100})
	log.load(streamEvents(3, 4, 5, 6, 7), Position{2, 0}, false)
	if got := takeIDs(resumed.Subscriber); got != "6-0 7-0" {
		t.Errorf("resumed subscriber got %q from the load, want 6-0 7-0", got)
	}
	select {
	case <-junk.Done():
		if junk.Reason() != ReasonUnknownID || takeIDs(junk.Subscriber) != "" {
			t.Errorf("junk resume ended with %q", junk.Reason())
		}
	default:
		t.Error("a junk resume id was kept waiting after the load")
	}
}

// TestSharedLogLostResumeGetsNothing: a client that resumed before the
// first load with an id the load shows lost is ended with nothing
// queued: a stream that wrote events first would move its client's id
// past what it missed.
func TestSharedLogLostResumeGetsNothing(t *testing.T) {
	h, log := newTransportHub(10)
	defer h.Close()
	lost, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "4-5", HasLastEventID: true, Buffer: 100})
	if err != nil {
		t.Fatal(err)
	}
	log.load(streamEvents(3, 4, 5, 6), Position{2, 0}, false)
	select {
	case <-lost.Done():
	default:
		t.Fatal("a resume from a lost id was not ended")
	}
	if lost.Reason() != ReasonUnknownID {
		t.Errorf("ended with %q, want unknown_id", lost.Reason())
	}
	if got := takeIDs(lost.Subscriber); got != "" {
		t.Errorf("events queued before the end: %q", got)
	}
}
