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
	"testing"
	"time"
)

// BenchmarkPresenceQuery10k is a presence query of a topic with 10,000
// members; SPEC wants it under 10 ms.
func BenchmarkPresenceQuery10k(b *testing.B) {
	h := New("bench", Settings{Presence: true}, Options{})
	defer h.Close()
	for i := range 10000 {
		if _, err := h.Subscribe(SubscribeRequest{Selectors: []string{"room"}, Identity: fmt.Sprintf("user-%05d", i), Buffer: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if info, _ := h.Presence("room"); info.Count != 10000 {
			b.Fatalf("count %d", info.Count)
		}
	}
}

// BenchmarkSubscribeClose opens and closes a stream on a topic others are
// on, with presence off and on: what presence costs per stream.
func BenchmarkSubscribeClose(b *testing.B) {
	for _, c := range []struct {
		name     string
		settings Settings
	}{
		{"presence=off", Settings{}},
		{"presence=on", Settings{Presence: true, PresenceGrace: time.Hour}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := New("bench", c.settings, Options{})
			defer h.Close()
			for i := range 100 {
				if _, err := h.Subscribe(SubscribeRequest{Selectors: []string{"room", "other"}, Identity: fmt.Sprint(i), Buffer: 1}); err != nil {
					b.Fatal(err)
				}
			}
			req := SubscribeRequest{Selectors: []string{"room", "users/7"}, Identity: "7", Client: "7", Buffer: 16}
			b.ReportAllocs()
			for b.Loop() {
				s, err := h.Subscribe(req)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}

// BenchmarkPublishPresence publishes to a topic with 100 members with
// presence off and on: presence must add nothing per delivered event.
func BenchmarkPublishPresence(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("presence=%v", on), func(b *testing.B) {
			h := New("bench", Settings{History: 1000, Presence: on}, Options{})
			defer h.Close()
			subs := make([]*Subscription, 100)
			for i := range subs {
				s, err := h.Subscribe(SubscribeRequest{Selectors: []string{"orders/42"}, Identity: fmt.Sprint(i), Buffer: 4096, Presence: on})
				if err != nil {
					b.Fatal(err)
				}
				subs[i] = s
			}
			d := &benchDrainer{subs: subs, every: benchDrainEvery}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Publish(context.Background(), []*Event{{Topics: []string{"orders/42"}, Data: `{"status":"shipped"}`}}, "", 0); err != nil {
					b.Fatal(err)
				}
				d.published(b)
			}
			checkNoDrops(b, h)
		})
	}
}
