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
	"strings"
	"testing"
)

func BenchmarkEncode(b *testing.B) {
	line := strings.Repeat("x", 63) + "\n" // 16 lines of 64 bytes: 1 KiB
	cases := []struct {
		name string
		ev   Event
	}{
		{"small", Event{ID: "m3k9q2x1ab7c-42", Topics: []string{"orders/42"}, Data: `{"status":"shipped"}`}},
		{"1KiB-multiline", Event{ID: "m3k9q2x1ab7c-42", Type: "log", Topics: []string{"logs/app/web"}, Data: strings.Repeat(line, 16)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.ev.Encode())))
			for b.Loop() {
				c.ev.Encode()
			}
		})
	}
}

// benchDrainer lets a benchmark's subscribers read their queues, with the
// timer stopped, every few publishes, as a stream's writer takes what is
// queued whenever it is woken: nobody is dropped as slow, and queues stay
// as short as they are in a server keeping up.
const benchDrainEvery = 32

type benchDrainer struct {
	subs  []*Subscription
	every int // publishes between drains; at most the subscribers' buffer
	n     int
}

func (d *benchDrainer) published(b *testing.B) {
	if d.n++; d.n < d.every {
		return
	}
	d.n = 0
	b.StopTimer()
	for _, s := range d.subs {
		s.Take(nil)
	}
	b.StartTimer()
}

// benchSubscribe subscribes n times with the selectors selector(i).
func benchSubscribe(b *testing.B, h *Hub, n, buffer int, selector func(i int) string) []*Subscription {
	subs := make([]*Subscription, n)
	for i := range subs {
		s, err := h.Subscribe(SubscribeRequest{Selectors: []string{selector(i)}, Buffer: buffer})
		if err != nil {
			b.Fatal(err)
		}
		subs[i] = s
	}
	return subs
}

func checkNoDrops(b *testing.B, h *Hub) {
	if st := h.Stats(); st.Dropped != 0 {
		b.Fatalf("%d subscribers dropped as slow: the benchmark measured less than it claims", st.Dropped)
	}
}

// BenchmarkPublishFanOut publishes one event to a topic with 1, 100 and
// 10,000 subscribers; ns/op is the cost of one publish, fan-out included.
func BenchmarkPublishFanOut(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			buffer := 4096
			if n > 100 {
				buffer = 64
			}
			h := New("bench", Settings{History: 1000}, Options{})
			defer h.Close()
			d := &benchDrainer{subs: benchSubscribe(b, h, n, buffer, func(int) string { return "orders/42" }), every: benchDrainEvery}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Publish(context.Background(), []*Event{{Topics: []string{"orders/42"}, Data: `{"status":"shipped"}`}}, "", 0); err != nil {
					b.Fatal(err)
				}
				d.published(b)
			}
			checkNoDrops(b, h)
			b.ReportMetric(float64(n), "deliveries/op")
		})
	}
}

// BenchmarkPublishManyTopics publishes to one topic of a hub where 10,000
// subscribers each watch their own topic and 100 watch distinct patterns:
// the cost of finding the few who match.
func BenchmarkPublishManyTopics(b *testing.B) {
	h := New("bench", Settings{History: 1000}, Options{})
	defer h.Close()
	const buffer = 4096
	subs := benchSubscribe(b, h, 10_000, buffer, func(i int) string { return fmt.Sprintf("users/%d", i) })
	subs = append(subs, benchSubscribe(b, h, 100, buffer, func(i int) string { return fmt.Sprintf("*/%d", i) })...)
	if _, err := h.Publish(context.Background(), []*Event{{Topics: []string{"users/42"}, Data: "x"}}, "", 0); err != nil {
		b.Fatal(err)
	}
	for i, s := range subs {
		if want := i == 42 || i == 10_000+42; (s.Queued() == 1) != want {
			b.Fatalf("subscriber %d (%q) has %d events queued", i, s.Selectors, s.Queued())
		}
	}
	d := &benchDrainer{subs: []*Subscription{subs[42], subs[10_000+42]}, every: benchDrainEvery}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Publish(context.Background(), []*Event{{Topics: []string{"users/42"}, Data: "x"}}, "", 0); err != nil {
			b.Fatal(err)
		}
		d.published(b)
	}
	checkNoDrops(b, h)
}

// BenchmarkPublishManyPatterns is the per-user notification shape: 10,000
// subscribers, each on its own pattern users/<id>/**, and a publish to one
// user's topic. Its cost must not grow with the number of patterns.
func BenchmarkPublishManyPatterns(b *testing.B) {
	h := New("bench", Settings{History: 1000}, Options{})
	defer h.Close()
	const buffer = 4096
	subs := benchSubscribe(b, h, 10_000, buffer, func(i int) string { return fmt.Sprintf("users/%d/**", i) })
	if _, err := h.Publish(context.Background(), []*Event{{Topics: []string{"users/42/inbox"}, Data: "x"}}, "", 0); err != nil {
		b.Fatal(err)
	}
	for i, s := range subs {
		if want := i == 42; (s.Queued() == 1) != want {
			b.Fatalf("subscriber %d (%q) has %d events queued", i, s.Selectors, s.Queued())
		}
	}
	d := &benchDrainer{subs: []*Subscription{subs[42]}, every: benchDrainEvery}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Publish(context.Background(), []*Event{{Topics: []string{"users/42/inbox"}, Data: "x"}}, "", 0); err != nil {
			b.Fatal(err)
		}
		d.published(b)
	}
	checkNoDrops(b, h)
}

func BenchmarkMatchSelector(b *testing.B) {
	cases := []struct {
		name, sel, topic string
		want             bool
	}{
		{"exact", "users/7/notifications", "users/7/notifications", true},
		{"exact-mismatch", "users/7/notifications", "users/8/notifications", false},
		{"one-segment", "users/*/notifications", "users/7/notifications", true},
		{"deep", "logs/**", "logs/app/web/errors", true},
		{"deep-mismatch", "logs/**", "metrics/app/web/errors", false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if MatchSelector(c.sel, c.topic) != c.want {
					b.Fatal("wrong match")
				}
			}
		})
	}
}
