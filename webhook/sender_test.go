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

package webhook

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
)

func TestDeliverSignedPayload(t *testing.T) {
	rc := newReceiver(t, always(http.StatusNoContent))
	s, clk := newTestSender(t, rc, Options{Types: []Type{Join, Connect, Disconnect}})
	at := clk.Now()
	s.Enqueue(TopicEvent(Occupied, "rooms/1", at)) // not a type this sender sends
	s.Enqueue(MemberEvent(Join, "rooms/1", "alice", 2, at))
	s.Enqueue(StreamEvent("alice", "127.0.0.1:5000", []string{"rooms/1", "rooms/*"}, "", at))
	s.Enqueue(StreamEvent("", "[::1]:6000", []string{"a\"b"}, "client_gone", at))
	clk.closeWindow(t)
	got := rc.next(t)
	want := `{"hub":"chat","events":[` +
		`{"type":"join","time":"2026-12-04T12:00:00Z","topic":"rooms/1","identity":"alice","count":2},` +
		`{"type":"connect","time":"2026-12-04T12:00:00Z","identity":"alice","remote":"127.0.0.1:5000","selectors":["rooms/1","rooms/*"]},` +
		`{"type":"disconnect","time":"2026-12-04T12:00:00Z","identity":"","remote":"[::1]:6000","selectors":["a\"b"],"reason":"client_gone"}]}`
	if got.raw != want {
		t.Errorf("body\n%s\nwant\n%s", got.raw, want)
	}
	if sent := clk.Now().Unix(); got.timestamp != strconv.FormatInt(sent, 10) {
		t.Errorf("webhook-timestamp %s; want %d, the time of the attempt", got.timestamp, sent)
	}
	pollUntil(t, "delivered counted", func() bool { return s.Stats() == Stats{Delivered: 3} })
}

func TestVerifySignatureRejectsTampering(t *testing.T) {
	key := []byte("0123456789abcdef01234567")
	h := http.Header{}
	at := time.Unix(1_800_000_000, 0)
	sign(h, key, "msg_1", at, []byte(`{"a":1}`))
	if err := verifySignature(key, h, []byte(`{"a":1}`), at); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	if err := verifySignature(key, h, []byte(`{"a":2}`), at); err == nil {
		t.Error("a changed body verified")
	}
	if err := verifySignature([]byte("another key of 24 bytes!"), h, []byte(`{"a":1}`), at); err == nil {
		t.Error("another key verified")
	}
	if err := verifySignature(key, h, []byte(`{"a":1}`), at.Add(6*time.Minute)); err == nil {
		t.Error("an old timestamp verified")
	}
}

func TestBatchByCount(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	s, clk := newTestSender(t, rc, Options{})
	events := topicEvents(250, clk)
	for _, e := range events {
		s.Enqueue(e)
	}
	// The first batch goes out full without the window closing.
	first := rc.next(t)
	if len(first.events) != MaxBatch {
		t.Fatalf("first batch has %d events; want %d", len(first.events), MaxBatch)
	}
	topics := topicsOf(first)
	for len(topics) < len(events) {
		select {
		case got := <-rc.got:
			if len(got.events) > MaxBatch {
				t.Fatalf("a batch of %d events", len(got.events))
			}
			topics = append(topics, topicsOf(got)...)
		case d := <-clk.asked:
			clk.Advance(d)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d events", len(topics), len(events))
		}
	}
	for i, topic := range topics {
		if topic != events[i].Topic {
			t.Fatalf("event %d is %s; want %s (out of order)", i, topic, events[i].Topic)
		}
	}
}

func TestBatchByTime(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	s, clk := newTestSender(t, rc, Options{})
	for _, e := range topicEvents(3, clk) {
		s.Enqueue(e)
	}
	if d := clk.nextWait(t); d != BatchWindow {
		t.Fatalf("waited %v; want %v", d, BatchWindow)
	}
	clk.Advance(BatchWindow - time.Nanosecond)
	s.Enqueue(TopicEvent(Vacated, "t3", clk.Now())) // within the window
	if n := rc.count(); n != 0 {
		t.Fatalf("%d requests before the window closed", n)
	}
	clk.Advance(time.Nanosecond)
	got := rc.next(t)
	if want := []string{"t0", "t1", "t2", "t3"}; !slices.Equal(topicsOf(got), want) {
		t.Errorf("batch %v; want %v", topicsOf(got), want)
	}
}

func TestQueueFullDropsOldest(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	s, clk := newTestSender(t, rc, Options{Queue: 3})
	events := topicEvents(5, clk)
	for _, e := range events[:3] {
		s.Enqueue(e)
	}
	if st := s.Stats(); st.Dropped != 0 || st.Queued != 3 {
		t.Fatalf("at the bound: %+v; want 3 queued, none dropped", st)
	}
	for _, e := range events[3:] {
		s.Enqueue(e)
	}
	if st := s.Stats(); st.Dropped != 2 || st.Queued != 3 {
		t.Fatalf("past the bound: %+v; want 3 queued, 2 dropped", st)
	}
	clk.closeWindow(t)
	if got := topicsOf(rc.next(t)); !slices.Equal(got, []string{"t2", "t3", "t4"}) {
		t.Errorf("delivered %v; want the newest three", got)
	}
	pollUntil(t, "delivered counted", func() bool { return s.Stats() == Stats{Delivered: 3, Dropped: 2} })
}

func TestEnqueueNeverBlocks(t *testing.T) {
	rc := newReceiver(t, always(0)) // hangs
	s, clk := newTestSender(t, rc, Options{Queue: 1000, Timeout: time.Hour})
	s.Enqueue(TopicEvent(Occupied, "first", clk.Now()))
	clk.closeWindow(t)
	rc.next(t) // the first batch hangs in the receiver
	for _, e := range topicEvents(5000, clk) {
		s.Enqueue(e)
	}
	if st := s.Stats(); st.Dropped != 4000 || st.Queued != 1001 {
		t.Errorf("stats %+v; want 4000 dropped and 1000 queued plus the one in flight", st)
	}
}

func TestRetried(t *testing.T) {
	for _, status := range []int{500, 502, 503, 429, 408, 0} {
		name := strconv.Itoa(status)
		if status == 0 {
			name = "timeout"
		}
		t.Run(name, func(t *testing.T) {
			rc := newReceiver(t, func(n int) int {
				if n == 0 {
					return status
				}
				return http.StatusOK
			})
			s, clk := newTestSender(t, rc, Options{Timeout: 100 * time.Millisecond})
			s.Enqueue(TopicEvent(Occupied, "t", clk.Now()))
			clk.closeWindow(t)
			first := rc.next(t)
			wait := clk.nextWait(t)
			if wait < firstBackoff/2 || wait > firstBackoff {
				t.Fatalf("first retry after %v; want %v to %v", wait, firstBackoff/2, firstBackoff)
			}
			if n := rc.count(); n != 1 {
				t.Fatalf("%d requests before the backoff passed", n)
			}
			clk.Advance(wait)
			second := rc.next(t)
			if second.id != first.id || second.raw != first.raw {
				t.Errorf("the retry is not the same batch: id %s, then %s", first.id, second.id)
			}
			pollUntil(t, "delivered counted", func() bool { return s.Stats() == Stats{Delivered: 1} })
		})
	}
}

func TestConnectionErrorRetried(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	clk := newFakeClock()
	rc.srv.Close() // nothing listens
	s := New(Options{Hub: "chat", URL: rc.srv.URL, Secret: rc.key, Types: Types, Clock: clk})
	defer s.Close()
	s.Enqueue(TopicEvent(Occupied, "t", clk.Now()))
	clk.closeWindow(t)
	if wait := clk.nextWait(t); wait > firstBackoff {
		t.Errorf("waited %v after a connection error; want a retry within %v", wait, firstBackoff)
	}
	if st := s.Stats(); st.Failed != 0 || st.Queued != 1 {
		t.Errorf("stats %+v; want the event still queued", st)
	}
}

func TestRefusedNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 404, 410, 302} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			rc := newReceiver(t, func(n int) int {
				if n == 0 {
					return status
				}
				return http.StatusOK
			})
			s, clk := newTestSender(t, rc, Options{})
			s.Enqueue(TopicEvent(Occupied, "refused", clk.Now()))
			clk.closeWindow(t)
			rc.next(t)
			s.Enqueue(TopicEvent(Occupied, "next", clk.Now()))
			// The next wait is the window of the next batch, not a backoff.
			clk.closeWindow(t)
			if got := topicsOf(rc.next(t)); !slices.Equal(got, []string{"next"}) {
				t.Errorf("second request carries %v; want only the next batch", got)
			}
			pollUntil(t, "counters", func() bool { return s.Stats() == Stats{Delivered: 1, Failed: 1} })
		})
	}
}

func TestBackoffDoublesToOneMinute(t *testing.T) {
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, 60 * time.Second, 60 * time.Second, 60 * time.Second}
	for i, w := range want {
		if got := backoff(i); got != w {
			t.Errorf("backoff(%d) = %v; want %v", i, got, w)
		}
	}
	for _, d := range want {
		for range 1000 {
			if j := equalJitter(d); j < d/2 || j > d {
				t.Fatalf("jitter of %v gave %v", d, j)
			}
		}
	}

	// And the sender follows it.
	rc := newReceiver(t, always(http.StatusInternalServerError))
	s, clk := newTestSender(t, rc, Options{})
	s.jitter = func(d time.Duration) time.Duration { return d }
	s.Enqueue(TopicEvent(Occupied, "t", clk.Now()))
	clk.closeWindow(t)
	var got []time.Duration
	for range want {
		rc.next(t)
		d := clk.nextWait(t)
		got = append(got, d)
		clk.Advance(d)
	}
	if !slices.Equal(got, want) {
		t.Errorf("waits %v; want %v", got, want)
	}
}

func TestGiveUpAt24h(t *testing.T) {
	for _, tc := range []struct {
		age    time.Duration // of the batch at its second attempt
		gaveUp bool
	}{
		{MaxAge - time.Nanosecond, false},
		{MaxAge, true},
		{MaxAge + time.Hour, true},
	} {
		t.Run(fmt.Sprint(tc.age), func(t *testing.T) {
			rc := newReceiver(t, always(http.StatusServiceUnavailable))
			s, clk := newTestSender(t, rc, Options{})
			s.jitter = func(d time.Duration) time.Duration { return d }
			s.Enqueue(TopicEvent(Occupied, "t", clk.Now()))
			clk.closeWindow(t)
			rc.next(t)
			if d := clk.nextWait(t); d != firstBackoff {
				t.Fatalf("waited %v; want %v", d, firstBackoff)
			}
			clk.Advance(tc.age)
			rc.next(t)
			if tc.gaveUp {
				pollUntil(t, "given up", func() bool { return s.Stats() == Stats{Failed: 1} })
				return
			}
			if d := clk.nextWait(t); d != 2*firstBackoff {
				t.Fatalf("waited %v; want %v", d, 2*firstBackoff)
			}
			if st := s.Stats(); st != (Stats{Queued: 1}) {
				t.Errorf("stats %+v; want the batch still queued", st)
			}
		})
	}
}

func TestOrderKeptAcrossRetries(t *testing.T) {
	rc := newReceiver(t, func(n int) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s, clk := newTestSender(t, rc, Options{})
	s.Enqueue(TopicEvent(Occupied, "a", clk.Now()))
	clk.closeWindow(t)
	rc.next(t)
	wait := clk.nextWait(t)
	s.Enqueue(TopicEvent(Occupied, "b", clk.Now())) // while a waits for its retry
	clk.Advance(wait)
	if got := topicsOf(rc.next(t)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after the failure the receiver got %v; want a again", got)
	}
	clk.closeWindow(t)
	if got := topicsOf(rc.next(t)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("then %v; want b", got)
	}
}

func TestCloseWithHangingReceiver(t *testing.T) {
	rc := newReceiver(t, always(0))
	s, clk := newTestSender(t, rc, Options{Timeout: time.Hour})
	s.Enqueue(TopicEvent(Occupied, "t", clk.Now()))
	clk.closeWindow(t)
	rc.next(t)
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a receiver that hangs")
	}
}

func TestCloseIdle(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	s := New(Options{Hub: "chat", URL: rc.srv.URL, Secret: rc.key})
	done := make(chan struct{})
	go func() {
		s.Close()
		s.Close() // twice is harmless
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close of an idle sender hangs")
	}
}

// pollUntil waits for cond, which reads counters that offer nothing to
// wait on.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ssetest.PollUntil(t, 10*time.Second, what, cond)
}
