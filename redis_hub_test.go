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
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeTransport lets hub tests feed events as a transport's reader would.
type fakeTransport struct{}

func (fakeTransport) start() {}
func (fakeTransport) publish(context.Context, []*Event, string, int) ([]string, error) {
	return nil, errUnavailable
}
func (fakeTransport) status() *TransportStatus { return &TransportStatus{Name: "fake"} }
func (fakeTransport) close()                   {}

func newTransportHub(history int) *Hub {
	h := NewHub("x", HubSettings{History: history}, nil)
	h.transport = fakeTransport{}
	h.loadWait = 0
	return h
}

// streamEvents makes events with ids <ms>-0 for each ms, on topic t.
func streamEvents(ms ...uint64) []*Event {
	var out []*Event
	for _, m := range ms {
		id := fmt.Sprintf("%d-0", m)
		e := &Event{ID: id, sid: streamID{m, 0}, Topics: []string{"t"}, Data: id}
		e.wire = e.encode()
		out = append(out, e)
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

func TestParseStreamID(t *testing.T) {
	for in, ok := range map[string]bool{
		"0-0": true, "1-0": true, "1795545874004-12": true, "18446744073709551615-18446744073709551615": true,
		"": false, "$": false, "+": false, "-": false, ">": false, "*": false, "0": false, "5-": false,
		"-5": false, "01-1": false, "1-01": false, "+1-1": false, "1-+1": false, "18446744073709551616-0": false,
		"1-2-3": false, "a-1": false, "1-1\x00": false,
	} {
		if _, got := parseStreamID(in); got != ok {
			t.Errorf("parseStreamID(%q) ok = %v, want %v", in, got, ok)
		}
	}
}

func TestTransportHubResumeBeforeLoad(t *testing.T) {
	h := newTransportHub(10)
	resumed, err := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "5-0", HasLastEventID: true, Buffer: 100})
	if err != nil || resumed.ResetReason != "" || len(resumed.Replay) != 0 {
		t.Fatalf("resume before load: %+v, %v", resumed, err)
	}
	fresh, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, Buffer: 100})
	expired, _ := h.Subscribe(SubscribeRequest{Selectors: []string{"t"}, LastEventID: "1-0", HasLastEventID: true, Buffer: 100})

	h.load(streamEvents(3, 4, 5, 6, 7), streamID{2, 0}, false)
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

	h.ingest(streamEvents(7, 8))
	if got := takeIDs(resumed.Subscriber); got != "8-0" {
		t.Errorf("resumed subscriber got %q live, want 8-0", got)
	}
	if got := takeIDs(fresh.Subscriber); got != "8-0" {
		t.Errorf("fresh subscriber got %q live, want 8-0", got)
	}
}

func TestTransportHubFutureAndGap(t *testing.T) {
	h := newTransportHub(3)
	h.load(streamEvents(10, 11, 12, 13), streamID{9, 0}, false)
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
	h.ingest(streamEvents(now-1, now, now+1))
	if got := takeIDs(future.Subscriber); got != fmt.Sprintf("%d-0", now+1) {
		t.Errorf("future resume got %q", got)
	}
	// A gap ends every stream so that clients resume and learn of it.
	h.load(streamEvents(now+5), streamID{now + 4, 0}, true)
	select {
	case <-future.Done():
		if future.Reason() != ReasonGap {
			t.Errorf("gap ended the stream with %q", future.Reason())
		}
	default:
		t.Error("a gap left a stream open")
	}
}
