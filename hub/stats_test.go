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
	"testing"
	"time"
)

// TestLatencyHistogram checks the bucket arithmetic: cumulative counts,
// the +Inf bucket and the sum.
func TestLatencyHistogram(t *testing.T) {
	var l latencyHistogram
	for _, d := range []time.Duration{5 * time.Microsecond, 10 * time.Microsecond, 2 * time.Millisecond, 3 * time.Second} {
		l.observe(d)
	}
	count, sum, buckets := l.snapshot()
	if count != 4 || sum < 3.002 || sum > 3.0021 {
		t.Fatalf("count %d, sum %v", count, sum)
	}
	for bound, want := range map[float64]uint64{0.00001: 2, 0.001: 2, 0.0025: 3, 1: 3} {
		if buckets[bound] != want {
			t.Errorf("bucket le=%v: %d, want %d", bound, buckets[bound], want)
		}
	}
}

// TestHubDrops checks the hub's per-reason counts: its own removals count
// in Stats too, a writer's drops and capacity rejections only by reason,
// and an unknown reason as "other".
func TestHubDrops(t *testing.T) {
	h := New("drops", Settings{History: 10, MaxSubscribers: 2}, Options{})
	defer h.Close()
	a, err := h.Subscribe(SubscribeRequest{Selectors: []string{"a"}, Buffer: 1, Remote: "192.0.2.1:1", Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Subscribe(SubscribeRequest{Selectors: []string{"b", "c/*"}, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(SubscribeRequest{Selectors: []string{"a"}}); err != ErrCapacity {
		t.Fatalf("third subscriber: %v, want ErrCapacity", err)
	}
	subs := h.Subscribers()
	if len(subs) != 2 || subs[0].ID != a.ID || subs[0].Identity != "alice" || subs[0].Remote != "192.0.2.1:1" ||
		subs[1].ID != b.ID || len(subs[1].Selectors) != 2 || subs[0].Queued != 0 {
		t.Fatalf("subscribers %+v", subs)
	}
	if _, err := h.Publish(context.Background(), []*Event{{Topics: []string{"a"}, Data: "1"}}, "", 0); err != nil {
		t.Fatal(err)
	}
	if q := h.Subscribers()[0].Queued; q != 1 {
		t.Fatalf("queued %d, want 1", q)
	}
	if !h.Disconnect(b.ID, ReasonDisconnected, time.Minute) {
		t.Fatal("Disconnect found no subscriber")
	}
	<-b.Done()
	if b.Reason() != ReasonDisconnected || b.RetryAfter() != time.Minute {
		t.Fatalf("reason %q, retry %v", b.Reason(), b.RetryAfter())
	}
	a.CountDrop(ReasonWriteTimeout)
	h.CountDrop("something new")
	want := map[Reason]uint64{ReasonCapacity: 1, ReasonDisconnected: 1, ReasonWriteTimeout: 1, "other": 1}
	for _, reason := range DropReasons {
		if got := h.Drops()[reason]; got != want[reason] {
			t.Errorf("drops for %s: %d, want %d", reason, got, want[reason])
		}
	}
	if st := h.Stats(); st.Dropped != 1 {
		t.Errorf("Stats().Dropped %d, want 1 (the hub's own removal)", st.Dropped)
	}
	a.Close()
}
