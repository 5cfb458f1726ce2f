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

// deliver is the one way events reach the hub's history and subscribers,
// whatever the log: it adds them to history and queues each for every
// matching subscriber, in the log's order.
func (h *Hub) deliver(d Delivery) {
	defer h.flushPresence() // slow subscribers dropped
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if h.horizon.Less(d.Horizon) {
		h.horizon = d.Horizon
	}
	if d.Reload {
		h.reloadLocked(d)
		return
	}
	var fan fanOutCache
	n := 0
	for i, e := range d.Events {
		if !h.last.Less(e.Pos) {
			continue // delivered before
		}
		h.appendLocked(e)
		var next *Event
		if i+1 < len(d.Events) {
			next = d.Events[i+1]
		}
		fan.fanOutLocked(h, e, next)
		n++
	}
	h.published.Add(uint64(n))
	h.trimLocked()
}

// appendLocked adds a delivered event to history; it gets the next
// delivery number, which tells fan-out whether a subscriber has it.
func (h *Hub) appendLocked(e *Event) {
	h.seq++
	e.seq = h.seq
	h.last, h.lastID, h.lastPub = e.Pos, e.ID, e.pub
	if e.pub {
		h.notePubIDLocked(e)
	}
	h.history = append(h.history, e)
	h.histBytes += int64(len(e.wire))
}

// reloadLocked replaces history with the newest events of the log. A
// subscriber that came before the first load gets from it what it has not
// seen: the events after its resume point, or, without one, those after
// d.Live. After a gap, every subscriber is ended so its client resumes
// and learns what it missed.
func (h *Hub) reloadLocked(d Delivery) {
	if d.Gap {
		for _, s := range h.subs {
			s.retry = ShortRetry()
			h.removeLocked(s, ReasonGap)
		}
	}
	clear(h.history)
	h.history, h.histBytes = h.history[:0], 0
	clear(h.pubIDs)
	h.base, h.last, h.lastID, h.lastPub = d.Base, d.Base, h.log.FormatID(d.Base), false
	// History first: a resume id waiting for this load may be a
	// publisher's id of one of these events.
	for _, e := range d.Events {
		if h.last.Less(e.Pos) {
			h.appendLocked(e)
		}
	}
	var waiting, resumed []*Subscriber
	for _, s := range h.subs {
		if !s.awaitLoad {
			continue
		}
		s.awaitLoad = false
		if s.awaitID != "" {
			pos, ok := h.resolveIDLocked(s.awaitID)
			s.awaitID = ""
			if !ok {
				s.retry = ShortRetry()
				h.removeLocked(s, ReasonUnknownID)
				continue
			}
			s.after, s.hasAfter = pos, true
		}
		switch {
		case s.hasAfter && s.after.Less(d.Base):
			s.retry = ShortRetry()
			h.removeLocked(s, ReasonExpiredID)
			continue
		case s.hasAfter:
			resumed = append(resumed, s)
		case d.Live == Position{}:
			continue
		default:
			// It came while the log could not be read: what the log
			// stored after Live is what it has not seen.
			s.after, s.hasAfter = d.Live, true
		}
		waiting = append(waiting, s)
	}
	// Ended before anything is queued: a stream that both had events
	// waiting and was ended could write them first, and its client would
	// then resume from an id past what it missed.
	for _, s := range resumed {
		if h.unknownLocked(s.after) {
			// Its id is not in the log and never will be: waiting for
			// the events after it would skip what the client missed.
			s.retry = ShortRetry()
			h.removeLocked(s, ReasonUnknownID)
		}
	}
	for _, e := range h.history {
		for _, s := range waiting {
			if !s.removed && s.wants(e) {
				h.queueLocked(s, e) // it skips events up to s.after
			}
		}
	}
	if !h.loaded {
		h.loaded = true
		close(h.loadedCh)
	}
	h.trimLocked()
}

// fanOutCache remembers, within one delivery, the subscribers matching a
// topic, for the next events of a batch published to that topic alone:
// finding them again per event (a map lookup and iteration, a walk of the
// pattern index) cost more than queueing the event. Under the hub's lock
// the set can only shrink, as slow subscribers are dropped, and those are
// skipped.
type fanOutCache struct {
	topic string
	subs  []*Subscriber
	valid bool // subs are topic's
}

// fanOutLocked is h.fanOutLocked(e) for an event of a delivery; next is
// the event after it, if any.
func (c *fanOutCache) fanOutLocked(h *Hub, e, next *Event) {
	if len(h.matchers) > 0 || e.Private || e.Opaque {
		c.valid = false // Mercure events and subscribers take the plain path
		h.fanOutLocked(e)
		return
	}
	t, single := onlyTopic(e)
	if !single || !c.valid || t != c.topic {
		if nt, _ := onlyTopic(next); !single || nt != t {
			c.valid = false
			h.fanOutLocked(e) // no topic shared with the next event: no list
			return
		}
		c.topic, c.subs, c.valid = t, c.subs[:0], true
		for s := range h.index.exact[t] {
			c.subs = append(c.subs, s)
		}
		if h.index.patterns.children > 0 {
			h.index.patterns.match(t, func(s *Subscriber) { c.subs = append(c.subs, s) })
		}
	}
	for _, s := range c.subs {
		if !s.removed {
			h.queueLocked(s, e)
		}
	}
}

// onlyTopic returns the topic of an event published to one topic.
func onlyTopic(e *Event) (string, bool) {
	if e == nil || len(e.Topics) != 1 {
		return "", false
	}
	return e.Topics[0], true
}

// fanOutLocked queues e for every subscriber with a selector matching one
// of its topics, once per subscriber. A full queue drops that subscriber
// instead of waiting: one slow reader never delays the others.
func (h *Hub) fanOutLocked(e *Event) {
	queue := func(s *Subscriber) { h.queueLocked(s, e) }
	if len(h.matchers) > 0 {
		for s := range h.matchers {
			if s.match(e) {
				h.queueLocked(s, e)
			}
		}
	}
	if e.Private || e.Opaque {
		h.fanOutNativeLocked(e, queue)
		return
	}
	for _, t := range e.Topics {
		// The exact set is walked here rather than through each's callback:
		// it is the wide fan-out, where an indirect call per subscriber shows.
		for s := range h.index.exact[t] {
			h.queueLocked(s, e)
		}
		if h.index.patterns.children > 0 {
			h.index.patterns.match(t, queue)
		}
	}
}

// queueLocked puts e in s's queue, once, unless s has it already.
func (h *Hub) queueLocked(s *Subscriber, e *Event) {
	if s.lastSeq == e.seq {
		return // already queued through another selector
	}
	if s.hasAfter && !s.after.Less(e.Pos) {
		return // the client has it: it resumed after this event
	}
	s.lastSeq = e.seq
	s.mu.Lock()
	if len(s.pending) >= s.limit {
		s.mu.Unlock()
		h.removeLocked(s, ReasonSlow)
		return
	}
	s.pending = append(s.pending, e)
	first := len(s.pending) == 1
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// fanOutNativeLocked queues a Mercure event for native subscribers: none
// for a private one, and only through its topics that are native topics.
func (h *Hub) fanOutNativeLocked(e *Event, queue func(*Subscriber)) {
	if e.Private {
		return
	}
	for _, t := range e.Topics {
		if ValidateTopic(t) != nil {
			continue
		}
		for s := range h.index.exact[t] {
			h.queueLocked(s, e)
		}
		if h.index.patterns.children > 0 {
			h.index.patterns.match(t, queue)
		}
	}
}
