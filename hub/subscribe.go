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
	"slices"
	"time"
)

// SubscribeRequest describes a new subscription.
type SubscribeRequest struct {
	// Selectors are valid selectors, deduplicated by the caller.
	Selectors []string
	// LastEventID, when HasLastEventID, asks to resume after that id.
	LastEventID    string
	HasLastEventID bool
	// Replay asks a first connect for the last Replay matching events.
	Replay int
	// Buffer bounds the subscriber's queue.
	Buffer int
	// Client identifies the subscriber for MaxPerClient: its identity, or
	// its IP address when anonymous.
	Client       string
	MaxPerClient int
	// Identity and Remote are kept for operators; Identity also names the
	// subscriber's membership of its exact topics.
	Identity string
	Remote   string
	// Presence asks for sse.join and sse.leave events on the exact topics
	// of Selectors, while the hub tracks presence.
	Presence bool
	// Match, when set, decides alone which events the subscriber gets
	// (Mercure's URI templates and private updates): Selectors are then
	// only reported, not indexed. Such subscribers are checked per event,
	// and only hubs that have one pay for it. Match runs under the hub's
	// lock and must not call the hub.
	Match func(*Event) bool
	// WantNewestID asks for NewestID even without a reset: Mercure's
	// Last-Event-ID response header.
	WantNewestID bool
}

// Subscription is what Subscribe hands back: the subscriber, the history to
// write before any live event, and, when a resume id could not be honoured,
// why and the newest id to send with sse.reset.
type Subscription struct {
	*Subscriber
	Replay      []*Event
	ResetReason Reason
	NewestID    string
	// StartID is the id a client resumes from if the stream ends before
	// any event reached it: the hub's position when it subscribed (O(1),
	// the newest delivered event's id or the log's id of its start), the
	// resume id it came with, or the reset's id. Empty when its first
	// events are a replay, which carry their own ids, or before a shared
	// log's first load.
	StartID string
}

// Subscribe registers a subscriber and returns it together with the history
// to replay, computed under the same lock so that replay and live events
// join without a gap or a duplicate.
func (h *Hub) Subscribe(req SubscribeRequest) (*Subscription, error) {
	h.log.Start()
	h.waitLoaded()
	defer h.flushPresence()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	if (h.settings.MaxSubscribers > 0 && len(h.subs) >= h.settings.MaxSubscribers) ||
		(req.MaxPerClient > 0 && h.perClient[req.Client] >= req.MaxPerClient) {
		h.CountDrop(ReasonCapacity)
		return nil, ErrCapacity
	}
	h.trimLocked() // apply history_age before deciding what a resume can get

	sub := &Subscription{}
	s := &Subscriber{
		Selectors: req.Selectors,
		Identity:  req.Identity,
		Remote:    req.Remote,
		Client:    req.Client,
		Since:     h.now(),
		limit:     max(req.Buffer, 1),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		hub:       h,
		lastSeq:   h.seq,
		watch:     req.Presence,
		match:     req.Match,
	}
	switch {
	case req.HasLastEventID:
		h.resumeLocked(sub, s, req)
	case req.Replay > 0:
		sub.Replay = matchingLocked(s, h.history, req.Replay)
	}
	if !h.loaded {
		s.awaitLoad = true // the first load gives it what came after it
	}
	if req.WantNewestID && sub.NewestID == "" {
		sub.NewestID = h.newestVisibleLocked(s)
	}
	switch {
	case sub.ResetReason != "":
		sub.StartID = sub.NewestID
	case req.HasLastEventID:
		if s.awaitID == "" { // read as one of the log's ids, not echoed unread
			sub.StartID = req.LastEventID
		}
	case len(sub.Replay) == 0 && req.WantNewestID:
		// A route that must not tell of other topics starts from the
		// newest event this subscriber may see.
		sub.StartID = sub.NewestID
	case len(sub.Replay) == 0:
		sub.StartID = h.lastID
	}

	h.nextSubID++
	s.ID = h.nextSubID
	if s.match != nil {
		h.matchers[s] = struct{}{}
	} else {
		for _, sel := range req.Selectors {
			h.index.add(sel, s)
		}
	}
	h.subs[s.ID] = s
	h.perClient[req.Client]++
	h.replayed.Add(uint64(len(sub.Replay)))
	if h.pres != nil {
		h.presenceOpenLocked(s, false)
	}
	sub.Subscriber = s
	return sub, nil
}

// resumeLocked decides what a subscriber resuming after req.LastEventID
// gets: the events of history after it, or, for an id a shared log may
// still deliver, the live events after it, or a reset.
func (h *Hub) resumeLocked(sub *Subscription, s *Subscriber, req SubscribeRequest) {
	if !h.loaded {
		// The log has not delivered yet, and a shared log may not read
		// its ids before then (its key comes with the first load): the
		// first load reads the id and replays.
		s.awaitID, s.awaitLoad = req.LastEventID, true
		return
	}
	pos, ok := h.resolveIDLocked(req.LastEventID)
	switch {
	case !ok:
		sub.ResetReason = ReasonUnknownID
	case pos.Less(h.base):
		sub.ResetReason = ReasonExpiredID
	case h.unknownLocked(pos):
		sub.ResetReason = ReasonUnknownID
	case !h.last.Less(pos):
		sub.Replay = matchingLocked(s, h.afterLocked(pos), 0)
	default:
		// Newer than anything delivered here: stored through another
		// instance a moment ago. Live events up to it are skipped.
		s.after, s.hasAfter = pos, true
	}
	if sub.ResetReason != "" {
		sub.NewestID = h.newestVisibleLocked(s)
	}
}

// newestVisibleLocked is the id a reset hands a client to resume from:
// that of the newest event in history its selectors match, so that the
// id tells it nothing of events it may not see; with none, the hub's
// newest position.
func (h *Hub) newestVisibleLocked(s *Subscriber) string {
	for i := len(h.history) - 1; i >= 0; i-- {
		if s.wants(h.history[i]) {
			return h.history[i].ID
		}
	}
	return h.resetIDLocked()
}

// unknownLocked reports whether a resume point at or after base names
// no event the hub has or may yet be given: within history, a position
// that is neither base nor one of its events (the log lost it, as a
// store restarted from an older copy does); past history, one the log
// has settled beyond (Delivery.Horizon) or that cannot arrive.
func (h *Hub) unknownLocked(pos Position) bool {
	if !h.last.Less(pos) {
		if pos == h.base {
			return false
		}
		_, found := slices.BinarySearchFunc(h.history, pos, func(e *Event, p Position) int { return e.Pos.Compare(p) })
		return !found
	}
	return !h.horizon.Less(pos) || !h.log.MayArrive(pos)
}

// waitLoaded lets a subscriber of a new hub wait, briefly, for its log's
// first delivery, so that it misses nothing published after it came;
// with a shared log's store down it goes on without.
func (h *Hub) waitLoaded() {
	select {
	case <-h.loadedCh:
		return
	default:
	}
	t := time.NewTimer(h.loadWait)
	defer t.Stop()
	select {
	case <-h.loadedCh:
	case <-t.C:
	}
}
