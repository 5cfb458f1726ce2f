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
	"slices"
	"strings"
	"testing"
)

// A subscriber with a Match gets what it accepts, replayed and live; native
// subscribers get neither private events nor opaque topics that are not
// native topics, and the matcher is gone once the subscriber is.
func TestHubMatchSubscribers(t *testing.T) {
	h, _ := newTestHub(t, Settings{History: 100})
	pub := func(data string, opaque, private bool, topics ...string) *Event {
		t.Helper()
		ev := &Event{Topics: topics, Data: data, Opaque: opaque, Private: private}
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid event: %v", err)
		}
		if _, err := h.Publish(context.Background(), []*Event{ev}, "", 0); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	first := pub("native before", false, false, "books/1")
	books := func(e *Event) bool {
		return slices.ContainsFunc(e.Topics, func(t string) bool { return strings.Contains(t, "books") })
	}
	m := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"books"}, Match: books, LastEventID: first.ID, HasLastEventID: true})
	if len(m.Replay) != 0 {
		t.Fatalf("resume after the newest event replayed %q", hubData(m.Replay))
	}
	native := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"**"}})
	a := pub("opaque", true, false, "https://example.com/books/1")
	b := pub("private", false, true, "books/2")
	c := pub("both", true, false, "https://example.com/books/3", "books/3")
	pub("other", false, false, "users/1")
	if got, want := hubQueued(m.Subscriber), []*Event{a, b, c}; !slices.Equal(got, want) {
		t.Errorf("matcher got %q, want %q", hubData(got), hubData(want))
	}
	if got := hubData(hubQueued(native.Subscriber)); !slices.Equal(got, []string{"both", "other"}) {
		t.Errorf("native subscriber got %q", got)
	}
	again := hubSubscribe(t, h, SubscribeRequest{Selectors: []string{"books"}, Match: books, Replay: 10})
	if got := hubData(again.Replay); !slices.Equal(got, []string{"native before", "opaque", "private", "both"}) {
		t.Errorf("replay = %q", got)
	}
	m.Close()
	again.Close()
	h.mu.Lock()
	n := len(h.matchers)
	h.mu.Unlock()
	if n != 0 {
		t.Errorf("%d matchers left after their subscribers closed", n)
	}
}

func TestValidateOpaqueTopic(t *testing.T) {
	for _, ok := range []string{"https://example.com/books/{id}", "*", "a b", strings.Repeat("x", MaxTopicLen)} {
		if err := ValidateOpaqueTopic(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\rb", "a\nb", "a\x00b", strings.Repeat("x", MaxTopicLen+1), "\xff"} {
		if ValidateOpaqueTopic(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
