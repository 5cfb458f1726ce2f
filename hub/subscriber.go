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
	"cmp"
	"slices"
	"sync"
	"time"
)

// Subscriber is one open stream's registration in a hub.
type Subscriber struct {
	ID        uint64
	Selectors []string
	Identity  string
	Remote    string
	Client    string
	Since     time.Time

	// The queue grows with what is waiting, up to limit events, instead of
	// holding a buffer-sized channel per stream: idle streams cost little.
	mu      sync.Mutex
	pending []*Event      // queued, not yet taken by the writer; guarded by mu
	limit   int           // most events pending before the subscriber is dropped
	wake    chan struct{} // holds a token while pending is not empty

	done   chan struct{} // closed when the hub removes the subscriber
	reason Reason        // why done was closed; written before close
	retry  time.Duration // how long the client should stay away; written before close

	hub     *Hub
	removed bool              // guarded by hub.mu
	watch   bool              // wants sse.join and sse.leave
	match   func(*Event) bool // with it, the subscriber is in hub.matchers, not the index
	lastSeq uint64            // delivery number of the last event queued; guarded by hub.mu

	// A subscriber of a shared log may resume after an event this
	// instance has not been given yet: events up to after are skipped.
	// awaitLoad marks one that subscribed before the log's first delivery
	// and gets its replay from it; awaitID is the resume id it gave, read
	// then. Guarded by hub.mu.
	after     Position
	hasAfter  bool
	awaitLoad bool
	awaitID   string
}

// Wake receives when live events are waiting to be taken with Take.
func (s *Subscriber) Wake() <-chan struct{} { return s.wake }

// Take appends the waiting live events, in publish order, to dst and
// empties the queue.
func (s *Subscriber) Take(dst []*Event) []*Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = append(dst, s.pending...)
	if cap(s.pending) > 64 {
		s.pending = nil // a burst is over: give its memory back
	} else {
		clear(s.pending)
		s.pending = s.pending[:0]
	}
	return dst
}

// Queued is the number of live events waiting to be taken.
func (s *Subscriber) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Done is closed when the hub ends the subscription; Reason tells why.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// Reason tells why Done was closed. Call it only after Done is closed.
func (s *Subscriber) Reason() Reason { return s.reason }

// RetryAfter is how long the client should wait before reconnecting, set
// by the one who ended the subscription; 0 leaves the stream's retry as
// it is. Call it only after Done is closed.
func (s *Subscriber) RetryAfter() time.Duration { return s.retry }

// CountDrop counts the subscriber as dropped by its writer for reason,
// such as a write that failed.
func (s *Subscriber) CountDrop(reason Reason) { s.hub.CountDrop(reason) }

// Close removes the subscriber from its hub. It is idempotent.
func (s *Subscriber) Close() { s.End("") }

// End is Close by a writer that knows why the stream ended (the client
// left, a write failed, the token expired), for presence observers; the
// hub does not count it as a drop.
func (s *Subscriber) End(reason Reason) {
	defer s.hub.flushPresence()
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.removeEndedLocked(s, "", reason)
}

// Delivered records n events written to the subscriber's client.
func (s *Subscriber) Delivered(n int) { s.hub.delivered.Add(uint64(n)) }

// removeLocked takes s out of every index. A non-empty reason tells the
// subscriber's writer, through Done, that the hub ended the stream.
func (h *Hub) removeLocked(s *Subscriber, reason Reason) { h.removeEndedLocked(s, reason, "") }

// removeEndedLocked is removeLocked, with why the writer ended the stream
// when the hub did not, for presence observers. Every stream leaves the
// hub here, which is what makes presence see every end.
func (h *Hub) removeEndedLocked(s *Subscriber, reason, ended Reason) {
	if s.removed {
		return
	}
	s.removed = true
	if s.match != nil {
		delete(h.matchers, s)
	} else {
		for _, sel := range s.Selectors {
			h.index.remove(sel, s)
		}
	}
	delete(h.subs, s.ID)
	if h.perClient[s.Client]--; h.perClient[s.Client] <= 0 {
		delete(h.perClient, s.Client)
	}
	if reason != "" {
		h.dropped.Add(1)
		h.CountDrop(reason)
	}
	s.reason = reason
	close(s.done)
	if h.pres != nil {
		h.presenceCloseLocked(s, cmp.Or(reason, ended))
	}
}

// SubscriberInfo describes an open subscription for operators.
type SubscriberInfo struct {
	ID        uint64    `json:"id"`
	Remote    string    `json:"remote"`
	Identity  string    `json:"identity,omitempty"`
	Selectors []string  `json:"selectors"`
	Since     time.Time `json:"since"`
	Queued    int       `json:"queued"`
}

// Subscribers returns the open subscriptions, oldest first.
func (h *Hub) Subscribers() []SubscriberInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]SubscriberInfo, 0, len(h.subs))
	for _, s := range h.subs {
		out = append(out, SubscriberInfo{ID: s.ID, Remote: s.Remote, Identity: s.Identity,
			Selectors: s.Selectors, Since: s.Since, Queued: s.Queued()})
	}
	slices.SortFunc(out, func(a, b SubscriberInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
