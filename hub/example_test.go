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

package hub_test

import (
	"context"
	"fmt"

	"github.com/caddy-sse/caddy-sse/hub"
)

// A hub of one's own: subscribe, publish, and take what was queued.
func Example() {
	h := hub.New("example", hub.Settings{History: 100}, hub.Options{})
	defer h.Close()

	sub, err := h.Subscribe(hub.SubscribeRequest{Selectors: []string{"orders/*"}, Buffer: 16})
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	event := &hub.Event{Type: "shipped", Topics: []string{"orders/42"}, Data: `{"id":42}`}
	if err := event.Validate(); err != nil {
		panic(err)
	}
	if _, err := h.Publish(context.Background(), []*hub.Event{event}, "", 0); err != nil {
		panic(err)
	}

	<-sub.Wake() // a writer waits for this, then takes the queue
	for _, e := range sub.Take(nil) {
		fmt.Printf("%s on %v: %s\n", e.Type, e.Topics, e.Data)
	}
	// Output: shipped on [orders/42]: {"id":42}
}

// A client that comes back with the id of the last event it saw gets
// what it missed, then live events.
func ExampleHub_Subscribe_resume() {
	h := hub.New("example", hub.Settings{History: 100}, hub.Options{})
	defer h.Close()
	var ids []string
	for _, data := range []string{"one", "two", "three"} {
		got, err := h.Publish(context.Background(), []*hub.Event{{Topics: []string{"news"}, Data: data}}, "", 0)
		if err != nil {
			panic(err)
		}
		ids = append(ids, got...)
	}

	sub, err := h.Subscribe(hub.SubscribeRequest{Selectors: []string{"news"}, Buffer: 16,
		LastEventID: ids[0], HasLastEventID: true})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	for _, e := range sub.Replay {
		fmt.Println(e.Data)
	}
	// Output:
	// two
	// three
}

// An id the hub does not know (too old, from an earlier process, junk)
// gives a reset: the client should refetch its state.
func ExampleHub_Subscribe_reset() {
	h := hub.New("example", hub.Settings{History: 100}, hub.Options{})
	defer h.Close()
	sub, err := h.Subscribe(hub.SubscribeRequest{Selectors: []string{"news"}, Buffer: 16,
		LastEventID: "not-an-id", HasLastEventID: true})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	fmt.Println(sub.ResetReason)
	// Output: unknown_id
}

// Selectors match topics segment by segment: '*' is one segment, '**' at
// the end one or more.
func ExampleMatchSelector() {
	for _, sel := range []string{"users/*", "users/**", "users/7"} {
		fmt.Println(sel, hub.MatchSelector(sel, "users/7"), hub.MatchSelector(sel, "users/7/inbox"))
	}
	// Output:
	// users/* true false
	// users/** true true
	// users/7 true false
}

// Events are encoded once, in the text/event-stream format, and every
// subscriber writes the same bytes.
func ExampleEvent_Encode() {
	e := &hub.Event{ID: "k3-7", Type: "log.warn", Topics: []string{"logs/web"}, Data: "disk 91%\nfull soon"}
	fmt.Print(string(e.Encode()))
	// Output:
	// id: k3-7
	// event: log.warn
	// topic: logs/web
	// data: disk 91%
	// data: full soon
}
