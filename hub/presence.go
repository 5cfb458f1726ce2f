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

	// Pending leaves and vacates, a heap by due time. A member or topic has
	// at most one entry: one that got a stream back and lost it again
	// moves its own deadline, and its entry, when it falls due, goes back
	// in for the rest; so churn within the grace grows nothing. One timer
	// waits for the earliest.
	queue     graceQueue
	seq       uint64 // orders entries of equal due time: a leave before its vacate
	timer     Timer
	timerSeq  uint64    // which timer is the current one
	armedAt   time.Time // when the current timer fires
	firing    bool      // graceFired is at work and arms the timer when done
	slow      []*Subscriber
	draining  bool
	afterFunc func(time.Duration, func()) Timer
	cluster   PresenceCluster // nil: presence is this instance's alone
}

// topicPresence is one exact topic's streams and members.
type topicPresence struct {
	streams   int
	anonymous int
	members   map[string]member // by identity; values, not pointers: no allocation per member
	occupied  bool              // occupied was reported and vacated was not yet
	vacateAt  time.Time         // when it is vacated if no stream comes back
	queued    bool              // it has an entry in the grace queue
	watchers  map[*Subscriber]struct{}
}

// member is one identity on a topic.
type member struct {
	streams int
	since   time.Time
	leaveAt time.Time // when it leaves if it has no stream by then
	queued  bool      // it has an entry in the grace queue
}

// graceEntry is a pending leave (identity set) or vacate.
type graceEntry struct {
	topic, identity string
	vacate          bool
	due             time.Time
	seq             uint64
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
		h.pres = &presence{grace: grace, topics: make(map[string]*topicPresence), afterFunc: h.afterFunc, cluster: h.clusterOf()}
		if h.pres.cluster != nil {
			h.pres.cluster.Track(h)
		}
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
	if h.pres.cluster != nil {
		h.pres.cluster.Track(nil)
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
		}
		tp.streams++
		if !tp.occupied { // else back within the grace: still occupied
			tp.occupied = true
			if !silent || p.cluster != nil {
				h.localLocked(PresenceEvent{Type: PresenceOccupied, Topic: sel, Time: now})
			}
		}
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
		tp.members[s.Identity] = m
		if !present && (!silent || p.cluster != nil) {
			// A silent join still goes to the cluster, which must know it.
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
				m.leaveAt = now.Add(p.grace)
				if !m.queued {
					m.queued = true
					h.scheduleLocked(graceEntry{topic: sel, identity: s.Identity, due: m.leaveAt})
				}
			}
			tp.members[s.Identity] = m
		}
		if tp.streams == 0 {
			tp.vacateAt = now.Add(p.grace)
			if !tp.queued {
				tp.queued = true
				h.scheduleLocked(graceEntry{topic: sel, vacate: true, due: tp.vacateAt})
			}
		}
	}
	if reason == "" {
		reason = ReasonClientGone
	}
	h.emitLocked(PresenceEvent{Type: PresenceDisconnect, Identity: s.Identity, Subscriber: s.ID,
		Remote: s.Remote, Selectors: s.Selectors, Reason: reason, Time: now})
	h.dropSlowWatchersLocked()
}

// scheduleLocked queues a leave or vacate, and arms the timer if it falls
// due before the timer would fire.
func (h *Hub) scheduleLocked(e graceEntry) {
	p := h.pres
	p.seq++
	e.seq = p.seq
	p.queue.push(e)
	if !p.firing && (p.timer == nil || e.due.Before(p.armedAt)) {
		h.armLocked(e.due)
	}
}

// armLocked starts the one grace timer, stopping any other. A timer that
// fired while it was being replaced finds its sequence number stale and
// does nothing.
func (h *Hub) armLocked(at time.Time) {
	p := h.pres
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timerSeq++
	seq := p.timerSeq
	p.armedAt = at
	p.timer = p.afterFunc(at.Sub(h.now()), func() { h.graceFired(p, seq) })
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
	p.firing = true
	for len(p.queue) > 0 && !p.queue[0].due.After(now) {
		h.endGraceLocked(p.queue.pop(), now)
	}
	p.firing = false
	if len(p.queue) > 0 {
		h.armLocked(p.queue[0].due)
	}
	h.dropSlowWatchersLocked()
}

// endGraceLocked makes a member leave or a topic vacated, unless it got a
// stream back within the grace; one that lost it again waits until its
// own deadline.
func (h *Hub) endGraceLocked(e graceEntry, now time.Time) {
	p := h.pres
	tp := p.topics[e.topic]
	if tp == nil {
		return
	}
	if e.vacate {
		tp.queued = false
		switch {
		case tp.streams > 0:
		case tp.vacateAt.After(now):
			tp.queued = true
			h.scheduleLocked(graceEntry{topic: e.topic, vacate: true, due: tp.vacateAt})
		case tp.occupied:
			tp.occupied = false
			h.localLocked(PresenceEvent{Type: PresenceVacated, Topic: e.topic, Time: now})
		}
	} else if m, ok := tp.members[e.identity]; ok {
		m.queued = false
		switch {
		case m.streams > 0:
			tp.members[e.identity] = m
		case m.leaveAt.After(now):
			m.queued = true
			tp.members[e.identity] = m
			h.scheduleLocked(graceEntry{topic: e.topic, identity: e.identity, due: m.leaveAt})
		default:
			delete(tp.members, e.identity)
			h.memberChangedLocked(PresenceLeave, e.topic, tp, e.identity, now)
		}
	}
	if tp.streams == 0 && len(tp.members) == 0 && !tp.queued {
		delete(p.topics, e.topic)
	}
}

// graceQueue is a min-heap of entries by due time, then by sequence.
type graceQueue []graceEntry

func (q graceQueue) less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].seq < q[j].seq
}

func (q *graceQueue) push(e graceEntry) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (q *graceQueue) pop() graceEntry {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = graceEntry{}
	h = h[:last]
	for i := 0; ; {
		smallest, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h.less(l, smallest) {
			smallest = l
		}
		if r < len(h) && h.less(r, smallest) {
			smallest = r
		}
		if smallest == i {
			break
		}
		h[i], h[smallest] = h[smallest], h[i]
		i = smallest
	}
	*q = h
	return top
}

// memberChangedLocked reports a join or leave to the observer and, as
// sse.join or sse.leave, to the topic's streams that asked for them.
func (h *Hub) memberChangedLocked(typ PresenceEventType, topic string, tp *topicPresence, identity string, now time.Time) {
	count := len(tp.members)
	if h.pres.cluster != nil {
		h.pres.cluster.Local(PresenceEvent{Type: typ, Topic: topic, Identity: identity, Count: count, Time: now})
		return // the cluster tells the watchers, on every instance, if it is the cluster's change
	}
	h.emitLocked(PresenceEvent{Type: typ, Topic: topic, Identity: identity, Count: count, Time: now})
	h.tellWatchersLocked(typ, topic, tp, identity, count)
}

// localLocked reports this instance's occupied or vacated: to the
// cluster if there is one, else to the observer.
func (h *Hub) localLocked(e PresenceEvent) {
	if h.pres.cluster != nil {
		h.pres.cluster.Local(e)
		return
	}
	h.emitLocked(e)
}

// tellWatchersLocked sends sse.join or sse.leave to the topic's streams
// that asked for them.
func (h *Hub) tellWatchersLocked(typ PresenceEventType, topic string, tp *topicPresence, identity string, count int) {
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
