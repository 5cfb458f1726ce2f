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
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTopicIndexMatchesBruteForce adds and removes random subscriptions and
// checks after every step that the index finds exactly the subscribers a
// scan of every selector with MatchSelector finds, and that removing
// everything leaves the index empty.
func TestTopicIndexMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	segs := []string{"a", "b", "c"}
	randomSelector := func() string {
		n := 1 + rng.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			switch r := rng.IntN(10); {
			case r < 2:
				parts[i] = "*"
			case r < 3 && i == n-1:
				parts[i] = "**"
			default:
				parts[i] = segs[rng.IntN(len(segs))]
			}
		}
		return joinSegments(parts)
	}
	randomTopic := func() string {
		parts := make([]string, 1+rng.IntN(5))
		for i := range parts {
			parts[i] = segs[rng.IntN(len(segs))]
		}
		return joinSegments(parts)
	}

	x := newTopicIndex()
	type entry struct {
		sel string
		sub *Subscriber
	}
	var live []entry
	subs := make([]*Subscriber, 8)
	for i := range subs {
		subs[i] = &Subscriber{ID: uint64(i + 1)}
	}
	check := func(step int) {
		t.Helper()
		for range 20 {
			topic := randomTopic()
			var got, want []uint64
			x.each(topic, func(s *Subscriber) { got = append(got, s.ID) })
			for _, e := range live {
				if MatchSelector(e.sel, topic) {
					want = append(want, e.sub.ID)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d, topic %q: index found %v, scan found %v (live %v)", step, topic, got, want, live)
			}
		}
		distinct := map[string]bool{}
		for _, e := range live {
			distinct[e.sel] = true
		}
		if x.selectors != len(distinct) {
			t.Fatalf("step %d: %d selectors counted, %d live", step, x.selectors, len(distinct))
		}
	}
	for step := range 3000 {
		if len(live) > 0 && rng.IntN(2) == 0 {
			i := rng.IntN(len(live))
			x.remove(live[i].sel, live[i].sub)
			live = slices.Delete(live, i, i+1)
		} else {
			e := entry{randomSelector(), subs[rng.IntN(len(subs))]}
			if slices.Contains(live, e) {
				continue // a subscription holds each selector once
			}
			x.add(e.sel, e.sub)
			live = append(live, e)
		}
		check(step)
	}
	for _, e := range live {
		x.remove(e.sel, e.sub)
	}
	if len(x.exact) != 0 || x.selectors != 0 || x.patterns.children != 0 ||
		len(x.patterns.literal) != 0 || x.patterns.star != nil || x.patterns.anyTail != nil {
		t.Fatalf("index not empty after removing everything: %+v", x)
	}
}

// TestTopicIndexRemoveUnknown leaves the index as it was.
func TestTopicIndexRemoveUnknown(t *testing.T) {
	x := newTopicIndex()
	a, b := &Subscriber{ID: 1}, &Subscriber{ID: 2}
	x.add("a/*", a)
	x.remove("a/*", b)
	x.remove("b/**", a)
	x.remove("a", a)
	var got []uint64
	x.each("a/z", func(s *Subscriber) { got = append(got, s.ID) })
	if !slices.Equal(got, []uint64{1}) || x.selectors != 1 {
		t.Fatalf("got %v, %d selectors", got, x.selectors)
	}
}

func joinSegments(parts []string) string {
	s := parts[0]
	for _, p := range parts[1:] {
		s += "/" + p
	}
	return s
}
