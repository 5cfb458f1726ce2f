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
	"time"
)

// This file is what presence tracking tells the world: typed events for
// an observer (a webhook sender, say) and the membership queries.

// PresenceEventType names a presence event, as webhooks name it.
type PresenceEventType string

// The presence event types (SPEC §12, §13).
const (
	PresenceOccupied   PresenceEventType = "occupied"   // an exact topic got its first stream
	PresenceVacated    PresenceEventType = "vacated"    // its last stream closed and the grace passed
	PresenceJoin       PresenceEventType = "join"       // an identity's first stream on a topic opened
	PresenceLeave      PresenceEventType = "leave"      // its last closed and the grace passed
	PresenceConnect    PresenceEventType = "connect"    // a stream opened
	PresenceDisconnect PresenceEventType = "disconnect" // a stream ended
)

// PresenceEvent is one change of presence or occupancy.
type PresenceEvent struct {
	Type PresenceEventType
	// Topic is the exact topic of occupied, vacated, join and leave.
	Topic string
	// Identity is the member of join and leave, and the stream's identity
	// (empty: anonymous) of connect and disconnect.
	Identity string
	// Count is, for join and leave, the topic's members (identities) after
	// the change.
	Count int
	// Time is when the change happened.
	Time time.Time
	// Subscriber, Remote and Selectors describe the stream of connect and
	// disconnect; Selectors is shared and must not be modified.
	Subscriber uint64
	Remote     string
	Selectors  []string
	// Reason is why the stream of a disconnect ended.
	Reason Reason
}

// Observer receives presence events in the order they happened. It is
// never called with the hub's lock held, but it is called on the goroutine
// of whatever made the change (a stream ending, a publish dropping a slow
// stream, the grace timer), so it must return quickly: enqueue and go.
type Observer func(PresenceEvent)

// SetObserver replaces the hub's observer; nil removes it. Setting one
// turns tracking on, with the streams already open counted silently.
func (h *Hub) SetObserver(o Observer) {
	defer h.flushPresence()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observer = o
	if o == nil {
		clear(h.pevents)
		h.pevents = h.pevents[:0]
		h.pendingEvents.Store(false) // or every later flush would take the lock for nothing
	}
	h.syncTrackingLocked()
}

// emitLocked keeps an event for the observer, if any, to be handed over
// once the hub's lock is released.
func (h *Hub) emitLocked(e PresenceEvent) {
	if h.observer == nil {
		return
	}
	h.pevents = append(h.pevents, e)
	h.pendingEvents.Store(true)
}

// flushPresence hands kept events to the observer, outside the hub's
// lock. One goroutine at a time does it, so the observer sees events in
// order; another that finds it busy leaves its events to it, and an
// observer that changes presence itself does not deadlock.
func (h *Hub) flushPresence() {
	if !h.pendingEvents.Load() {
		return
	}
	h.mu.Lock()
	for len(h.pevents) > 0 && !h.emitting && h.observer != nil {
		evs, observe := h.pevents, h.observer
		h.pevents = h.spareEvents[:0]
		h.pendingEvents.Store(false)
		h.emitting = true
		h.mu.Unlock()
		for _, e := range evs {
			observe(e)
		}
		clear(evs)
		h.mu.Lock()
		h.spareEvents = evs
		h.emitting = false
	}
	h.mu.Unlock()
}

// PresenceMember is one identity on a topic.
type PresenceMember struct {
	Identity string `json:"identity"`
	// Streams is its open streams on the topic; 0 while its grace runs.
	Streams int       `json:"streams"`
	Since   time.Time `json:"since"`
}

// PresenceInfo is the membership of one exact topic.
type PresenceInfo struct {
	Topic string `json:"topic"`
	// Members are in no particular order.
	Members []PresenceMember `json:"members"`
	// Anonymous is the topic's open streams without an identity.
	Anonymous int `json:"anonymous"`
	// Count is len(Members).
	Count int `json:"count"`
}

// TopicPresence is one tracked topic's counts.
type TopicPresence struct {
	Topic     string `json:"topic"`
	Count     int    `json:"count"`
	Anonymous int    `json:"anonymous"`
	Streams   int    `json:"streams"`
}

// Tracking reports whether the hub tracks presence: its Presence setting
// is on or it has an observer.
func (h *Hub) Tracking() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pres != nil
}

// Presence returns the members of an exact topic; a topic nobody is on has
// none. ok is false when the hub does not track presence.
func (h *Hub) Presence(topic string) (info PresenceInfo, ok bool) {
	info = PresenceInfo{Topic: topic, Members: []PresenceMember{}}
	h.mu.Lock()
	if h.pres == nil {
		h.mu.Unlock()
		return info, false
	}
	cluster := h.pres.cluster
	if tp := h.pres.topics[topic]; tp != nil {
		info.Anonymous = tp.anonymous
		info.Members = make([]PresenceMember, 0, len(tp.members))
		for id, m := range tp.members {
			info.Members = append(info.Members, PresenceMember{Identity: id, Streams: m.streams, Since: m.since})
		}
	}
	h.mu.Unlock()
	if cluster != nil {
		h.mergeCluster(cluster, &info)
	}
	// Not sorted: sorting 10,000 identities costs several times the copy,
	// and a client orders its list its own way anyway.
	info.Count = len(info.Members)
	return info, true
}

// PresenceTopics returns every tracked topic with its counts, sorted by
// topic. ok is false when the hub does not track presence.
func (h *Hub) PresenceTopics() (topics []TopicPresence, ok bool) {
	h.mu.Lock()
	if h.pres == nil {
		h.mu.Unlock()
		return nil, false
	}
	topics = make([]TopicPresence, 0, len(h.pres.topics))
	for t, tp := range h.pres.topics {
		topics = append(topics, TopicPresence{Topic: t, Count: len(tp.members), Anonymous: tp.anonymous, Streams: tp.streams})
	}
	h.mu.Unlock()
	slices.SortFunc(topics, func(a, b TopicPresence) int { return cmp.Compare(a.Topic, b.Topic) })
	return topics, true
}
