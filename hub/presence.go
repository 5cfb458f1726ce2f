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
	"encoding/json"
	"strings"
	"time"
)

// This file tracks who is on each exact topic (SPEC §12): members by
// identity, anonymous streams, occupancy, and the grace that keeps quick
// reconnects and reloads from making a leave/join pair. Every stream that
// opens passes through Subscribe and every one that ends, however it ends,
// through removeLocked; those are the two places that call in here.
//
// Tracking is on while the hub's Presence setting is on or an Observer is
// set; otherwise h.pres is nil and the hub pays one nil check per stream
// open and close, and nothing per event.

// DefaultPresenceGrace is how long a member whose last stream closed stays
// a member, and a topic whose last stream closed stays occupied, when the
// settings give no grace.
const DefaultPresenceGrace = 5 * time.Second

// Timer is a timer that can be stopped, as *time.Timer is.
type Timer interface {
	Stop() bool
}

// presence is the membership of every exact topic that open streams (or
// streams within their grace) subscribed to. Guarded by the hub's mutex.
type presence struct {
	grace  time.Duration
	topics map[string]*topicPresence

	// Pending leaves and vacates, in the order they fall due: the grace is
	// the same for all, so appending keeps the queue sorted (a grace
	// changed by a reload delays entries behind a longer one at most by
	// the old grace). One timer waits for the head.
	queue     []graceEntry
	head      int
	timer     Timer
	timerSeq  uint64 // which timer is the current one
	gen       uint64 // stamps entries, so that a reconnect cancels one
	slow      []*Subscriber
	draining  bool
	afterFunc func(time.Duration, func()) Timer
}

// topicPresence is one exact topic's streams and members.
type topicPresence struct {
	streams   int
	anonymous int
	members   map[string]member // by identity; values, not pointers: no allocation per member
	vacateGen uint64            // non-zero while a vacate is pending
	watchers  map[*Subscriber]struct{}
}

// member is one identity on a topic.
type member struct {
	streams  int
	since    time.Time
	leaveGen uint64 // non-zero while its leave is pending
}

// graceEntry is a leave (identity set) or a vacate, due at due unless the
// member or topic got a stream back, which clears its generation.
type graceEntry struct {
	topic, identity string
	vacate          bool
	gen             uint64
	due             time.Time
}

// exactTopic reports whether a selector is a topic: topics cannot hold
// '*', so a selector without one names exactly one topic.
func exactTopic(sel string) bool { return strings.IndexByte(sel, '*') < 0 }

// trackingWanted tells whether the hub must track presence: for queries
// and sse.join/sse.leave (the Presence setting) or for an observer.
func (h *Hub) trackingWanted() bool {
	return h.settings.Presence || h.observer != nil
}

// syncTrackingLocked starts or stops tracking after a change of settings
// or observer. Starting registers the open streams silently: their
// topics were occupied and their members present before anyone asked.
func (h *Hub) syncTrackingLocked() {
	grace := h.settings.PresenceGrace
	if grace <= 0 {
		grace = DefaultPresenceGrace
	}
	switch want := h.trackingWanted() && !h.closed; {
	case want && h.pres == nil:
		h.pres = &presence{grace: grace, topics: make(map[string]*topicPresence), afterFunc: h.afterFunc}
		for _, s := range h.subs {
			h.presenceOpenLocked(s, true)
		}
	case want:
		h.pres.grace = grace
	case h.pres != nil:
		h.stopTrackingLocked()
	}
}

// stopTrackingLocked forgets every member and pending leave.
func (h *Hub) stopTrackingLocked() {
	if h.pres.timer != nil {
		h.pres.timer.Stop()
	}
	h.pres = nil
}

// presenceOpenLocked registers a new stream on its exact topics. A
// silent one (tracking starting up with streams open) makes no event.
func (h *Hub) presenceOpenLocked(s *Subscriber, silent bool) {
	p := h.pres
	now := s.Since
	for _, sel := range s.Selectors {
		if !exactTopic(sel) {
			continue
		}
		tp := p.topics[sel]
		if tp == nil {
			tp = &topicPresence{}
			p.topics[sel] = tp
			if !silent {
				h.emitLocked(PresenceEvent{Type: PresenceOccupied, Topic: sel, Time: now})
			}
		}
		tp.streams++
		tp.vacateGen = 0 // back within the grace: still occupied
		if s.watch {
			if tp.watchers == nil {
				tp.watchers = make(map[*Subscriber]struct{})
			}
			tp.watchers[s] = struct{}{} // before its own join, which it sees
		}
		if s.Identity == "" {
			tp.anonymous++
			continue
		}
		if tp.members == nil {
			tp.members = make(map[string]member)
		}
		m, present := tp.members[s.Identity]
		if !present {
			m.since = now
		}
		m.streams++
		m.leaveGen = 0
		tp.members[s.Identity] = m
		if !present && !silent {
			h.memberChangedLocked(PresenceJoin, sel, tp, s.Identity, now)
		}
	}
	if !silent {
		h.emitLocked(PresenceEvent{Type: PresenceConnect, Identity: s.Identity, Subscriber: s.ID,
			Remote: s.Remote, Selectors: s.Selectors, Time: now})
	}
	h.dropSlowWatchersLocked()
}

// presenceCloseLocked unregisters a stream that ended: the last stream of
// a member, or of a topic, starts the grace.
func (h *Hub) presenceCloseLocked(s *Subscriber, reason Reason) {
	p := h.pres
	now := h.now()
	for _, sel := range s.Selectors {
		if !exactTopic(sel) {
			continue
		}
		tp := p.topics[sel]
		if tp == nil {
			continue // cannot happen: its open registered it
		}
		tp.streams--
		if s.watch {
			delete(tp.watchers, s)
		}
		if s.Identity == "" {
			tp.anonymous--
		} else if m, ok := tp.members[s.Identity]; ok {
			m.streams--
			if m.streams == 0 {
				p.gen++
				m.leaveGen = p.gen
				h.scheduleLocked(graceEntry{topic: sel, identity: s.Identity, gen: p.gen}, now)
			}
			tp.members[s.Identity] = m
		}
		if tp.streams == 0 {
			p.gen++
			tp.vacateGen = p.gen
			h.scheduleLocked(graceEntry{topic: sel, vacate: true, gen: p.gen}, now)
		}
	}
	if reason == "" {
		reason = ReasonClientGone
	}
	h.emitLocked(PresenceEvent{Type: PresenceDisconnect, Identity: s.Identity, Subscriber: s.ID,
		Remote: s.Remote, Selectors: s.Selectors, Reason: reason, Time: now})
	h.dropSlowWatchersLocked()
}

// scheduleLocked queues a leave or vacate for the end of the grace, and
// arms the timer if the queue was empty.
func (h *Hub) scheduleLocked(e graceEntry, now time.Time) {
	p := h.pres
	e.due = now.Add(p.grace)
	p.queue = append(p.queue, e)
	if p.timer == nil {
		h.armLocked(p.grace)
	}
}

// armLocked starts the one grace timer. A timer that fired while it was
// being replaced finds its sequence number stale and does nothing.
func (h *Hub) armLocked(d time.Duration) {
	p := h.pres
	p.timerSeq++
	seq := p.timerSeq
	p.timer = p.afterFunc(d, func() { h.graceFired(p, seq) })
}

// graceFired ends the graces that are due and arms the timer for the next.
func (h *Hub) graceFired(p *presence, seq uint64) {
	defer h.flushPresence()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pres != p || p.timerSeq != seq {
		return // tracking stopped or restarted, or a newer timer took over
	}
	p.timer = nil
	now := h.now()
	for p.head < len(p.queue) && !p.queue[p.head].due.After(now) {
		e := p.queue[p.head]
		p.queue[p.head] = graceEntry{}
		p.head++
		h.endGraceLocked(e, now)
	}
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	} else {
		if p.head > len(p.queue)/2 {
			n := copy(p.queue, p.queue[p.head:])
			clear(p.queue[n:])
			p.queue, p.head = p.queue[:n], 0
		}
		h.armLocked(p.queue[p.head].due.Sub(now))
	}
	h.dropSlowWatchersLocked()
}

// endGraceLocked makes a member leave or a topic vacated, unless it got
// a stream back within the grace.
func (h *Hub) endGraceLocked(e graceEntry, now time.Time) {
	tp := h.pres.topics[e.topic]
	if tp == nil {
		return
	}
	if e.vacate {
		if tp.vacateGen == e.gen {
			tp.vacateGen = 0
			h.emitLocked(PresenceEvent{Type: PresenceVacated, Topic: e.topic, Time: now})
		}
	} else if m, ok := tp.members[e.identity]; ok && m.leaveGen == e.gen {
		delete(tp.members, e.identity)
		h.memberChangedLocked(PresenceLeave, e.topic, tp, e.identity, now)
	}
	if tp.streams == 0 && len(tp.members) == 0 && tp.vacateGen == 0 {
		delete(h.pres.topics, e.topic)
	}
}

// memberChangedLocked reports a join or leave to the observer and, as
// sse.join or sse.leave, to the topic's streams that asked for them.
func (h *Hub) memberChangedLocked(typ PresenceEventType, topic string, tp *topicPresence, identity string, now time.Time) {
	count := len(tp.members)
	h.emitLocked(PresenceEvent{Type: typ, Topic: topic, Identity: identity, Count: count, Time: now})
	if len(tp.watchers) == 0 {
		return
	}
	data, _ := json.Marshal(struct {
		Topic    string `json:"topic"`
		Identity string `json:"identity"`
		Count    int    `json:"count"`
	}{topic, identity, count}) // cannot fail: strings and an int
	e := &Event{Type: "sse." + string(typ), Topics: []string{topic}, Data: string(data)}
	e.wire = e.Encode() // no id: a client keeps its last event id
	for s := range tp.watchers {
		h.queueControlLocked(s, e)
	}
}

// queueControlLocked queues a server event, which has no place in the log,
// for s. A full queue marks s to be dropped once the presence update
// in progress is done.
func (h *Hub) queueControlLocked(s *Subscriber, e *Event) {
	if s.removed {
		return
	}
	s.mu.Lock()
	if len(s.pending) >= s.limit {
		s.mu.Unlock()
		h.pres.slow = append(h.pres.slow, s)
		return
	}
	s.pending = append(s.pending, e)
	first := len(s.pending) == 1
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// dropSlowWatchersLocked drops the streams whose queue had no room for an
// sse.join or sse.leave; dropping one updates presence in turn, hence the
// guard against coming back in.
func (h *Hub) dropSlowWatchersLocked() {
	p := h.pres
	if p == nil || len(p.slow) == 0 || p.draining {
		return
	}
	p.draining = true
	for len(p.slow) > 0 {
		s := p.slow[len(p.slow)-1]
		p.slow = p.slow[:len(p.slow)-1]
		h.removeLocked(s, ReasonSlow)
	}
	p.draining = false
}
