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
)

// BenchmarkResume subscribes with a resume id of the second newest event
// of a history of 10,000 whose events all carry publisher ids (or none,
// for hub ids): finding the resume point costs a map lookup for a
// publisher id and a decryption and binary search for a hub id.
func BenchmarkResume(b *testing.B) {
	for _, kind := range []string{"hub", "publisher"} {
		b.Run("id="+kind, func(b *testing.B) {
			const n = 10_000
			h := New("bench", Settings{History: n}, Options{})
			defer h.Close()
			var mid string
			for i := range n {
				e := &Event{Topics: []string{"orders/42"}, Data: `{"status":"shipped"}`}
				if kind == "publisher" {
					e.ID = fmt.Sprintf("urn:order:%d", i)
				}
				ids, err := h.Publish(context.Background(), []*Event{e}, "", 0)
				if err != nil {
					b.Fatal(err)
				}
				if i == n-2 {
					mid = ids[0]
				}
			}
			req := SubscribeRequest{Selectors: []string{"orders/42"}, LastEventID: mid, HasLastEventID: true, Buffer: 1}
			b.ReportAllocs()
			for b.Loop() {
				sub, err := h.Subscribe(req)
				if err != nil || sub.ResetReason != "" || len(sub.Replay) != 1 {
					b.Fatalf("resume: %v, reason %q, %d replayed", err, sub.ResetReason, len(sub.Replay))
				}
				sub.Close()
			}
		})
	}
}
