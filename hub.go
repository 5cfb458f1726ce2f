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

package caddysse

import (
	"cmp"
	"crypto/rand"
	"errors"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HubSettings are the options that belong to a hub rather than to one
// handler: every handler naming the hub in one config must agree on them.
type HubSettings struct {
	// History is how many events are kept for replay; 0 keeps none.
	History int
	// HistoryAge drops events older than this; 0 keeps them regardless of age.
	HistoryAge time.Duration
	// HistorySize bounds the bytes of encoded events kept; 0 means no bound.
	HistorySize int64
	// MaxSubscribers bounds concurrent subscribers; 0 means unlimited.
	MaxSubscribers int
}

// Errors returned by the hub.
var (
	// ErrCapacity means max_subscribers or max_per_client is reached.
	ErrCapacity = errors.New("hub is at capacity")
	// ErrEventTooLarge means an encoded event exceeds the size limit.
	ErrEventTooLarge = errors.New("event is larger than max_event_size")
	// ErrHubClosed means the hub was destroyed; no handler uses it any more.
	ErrHubClosed = errors.New("hub is closed")
)

// Reasons a hub ends a subscription or resets a resume; they reach
// clients in sse.close and sse.reset data and label drop metrics.
const (
	ReasonSlow         = "slow_consumer"
	ReasonHubClosed    = "hub_closed"
	ReasonUnknownID    = "unknown_id"
	ReasonExpiredID    = "expired_id"
	ReasonDisconnected = "disconnected"  // by an operator, through the admin API
	ReasonCapacity     = "capacity"      // turned away at max_subscribers or max_per_client
	ReasonWriteTimeout = "write_timeout" // a write missed write_timeout
	ReasonWriteFailed  = "write_failed"  // a write failed otherwise
	ReasonGap          = "transport_gap" // the transport lost events this instance had not read
)

// DropReasons are the reasons a hub counts dropped subscribers under,
// the values of the reason label of the drop metric; any other reason is
// counted as "other".
var DropReasons = []string{ReasonSlow, ReasonWriteTimeout, ReasonWriteFailed, ReasonDisconnected,
	ReasonCapacity, "token_expired", ReasonHubClosed, ReasonGap, "other"}

// Hub fans events out to subscribers and keeps a bounded history for
// replay. It is plain Go, safe for concurrent use, and knows nothing of
// HTTP or Caddy. One mutex guards all state: publish holds it while it
// assigns ids and queues the event for every matching subscriber, which is
// what makes "register and snapshot history" atomic for a resuming
// subscriber, so there is no gap and no duplicate between replay and live.
type Hub struct {
	name  string
	epoch string // distinguishes this hub's ids from those of earlier processes
	now   func() time.Time

	mu        sync.Mutex
	settings  HubSettings
	closed    bool
	seq       uint64   // last assigned sequence number
	history   []*Event // oldest first; Seq values are contiguous
	histBytes int64
	idem      map[string][]string // Idempotency-Key → ids, while their events are in history
	idemOrder []idemRecord        // keys in publish order, for expiry with history

	index     *topicIndex // selectors → subscribers
	subs      map[uint64]*Subscriber
	perClient map[string]int
	nextSubID uint64

	published atomic.Uint64
	delivered atomic.Uint64
	replayed  atomic.Uint64
	dropped   atomic.Uint64
	drops     map[string]*atomic.Uint64 // by reason, one of DropReasons; the map is never written after NewHub

	publishLatency latencyHistogram

	// With a transport (Redis), events come from it rather than from
	// Publish: their ids are the transport's, and history mirrors the
	// newest events of the shared stream.
	transport hubTransport
	loaded    bool          // the mirror was loaded from the transport
	loadedCh  chan struct{} // closed once loaded
	loadWait  time.Duration // how long a subscriber waits for the first load
	base      streamID      // history holds every event after base
	last      streamID      // newest event ingested
	lastID    string        // its id
}

type idemRecord struct {
	key     string
	lastSeq uint64
}

// NewHub returns an empty hub. now may be nil for time.Now.
func NewHub(name string, settings HubSettings, now func() time.Time) *Hub {
	if now == nil {
		now = time.Now
	}
	return &Hub{
		name:      name,
		epoch:     newEpoch(now()),
		now:       now,
		settings:  settings,
		idem:      make(map[string][]string),
		index:     newTopicIndex(),
		subs:      make(map[uint64]*Subscriber),
		perClient: make(map[string]int),
		drops:     newDropCounters(),
		loadedCh:  make(chan struct{}),
		loadWait:  firstLoadWait,
	}
}

func newDropCounters() map[string]*atomic.Uint64 {
	m := make(map[string]*atomic.Uint64, len(DropReasons))
	for _, reason := range DropReasons {
		m[reason] = new(atomic.Uint64)
	}
	return m
}

// Drops returns the counts of dropped subscribers by reason, for every
// one of DropReasons.
func (h *Hub) Drops() map[string]uint64 {
	m := make(map[string]uint64, len(h.drops))
	for reason, c := range h.drops {
		m[reason] = c.Load()
	}
	return m
}

// CountDrop counts a subscriber dropped, or turned away, for reason in
// Drops. Stats' Dropped counts only the subscribers the hub removed.
func (h *Hub) CountDrop(reason string) {
	c, ok := h.drops[reason]
	if !ok {
		c = h.drops["other"]
	}
	c.Add(1)
}

// epochRandom is the range of an epoch's random part: six base-36 digits,
// so that two hubs started in the same millisecond, as the hubs of one
// config often are, share an epoch with odds of about one in two billion.
const epochRandom = 36 * 36 * 36 * 36 * 36 * 36

// newEpoch returns a short prefix unique to this hub instance: the start
// time in milliseconds plus random bits, in base 36.
func newEpoch(t time.Time) string {
	r, err := rand.Int(rand.Reader, big.NewInt(epochRandom))
	if err != nil {
		r = big.NewInt(0)
	}
	// Adding epochRandom gives a leading 1 to drop, keeping exactly six digits.
	return strconv.FormatInt(t.UnixMilli(), 36) + strconv.FormatInt(r.Int64()+epochRandom, 36)[1:]
}

// Name returns the hub's name.
func (h *Hub) Name() string { return h.name }

// Settings returns the hub's current settings.
func (h *Hub) Settings() HubSettings {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.settings
}

// Apply replaces the hub's settings, trimming history to the new limits.
func (h *Hub) Apply(s HubSettings) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settings = s
	h.trimLocked()
}

func (h *Hub) idFor(seq uint64) string {
	return h.epoch + "-" + strconv.FormatUint(seq, 10)
}

// parseID returns the sequence number of one of this hub's ids.
func (h *Hub) parseID(id string) (uint64, bool) {
	if len(id) > len(h.epoch)+21 {
		return 0, false
	}
	epoch, num, ok := strings.Cut(id, "-")
	if !ok || epoch != h.epoch || num == "" || num[0] == '+' {
		return 0, false
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	if err != nil || strconv.FormatUint(seq, 10) != num {
		return 0, false
	}
	return seq, true
}

// Publish stores events in order and queues each for every matching
// subscriber. The events must have passed validate. With a non-empty
// idempotency key already seen while its events are still in history,
// Publish stores nothing and returns the original ids. Either every event is
// stored or none is: if one would exceed maxSize bytes encoded (0 = no
// limit), it returns ErrEventTooLarge.
func (h *Hub) Publish(events []*Event, idemKey string, maxSize int) ([]string, error) {
	start := time.Now()
	defer func() { h.publishLatency.observe(time.Since(start)) }()
	bodies := make([][]byte, len(events))
	for i, e := range events {
		bodies[i] = e.encodeBody()
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	if h.transport != nil {
		return nil, errors.New("hub has a transport: use Store")
	}
	if idemKey != "" {
		h.trimLocked() // apply history_age: a key is known only while its events are
		if ids, ok := h.idem[idemKey]; ok {
			return ids, nil
		}
	}
	ids := h.nextIDsLocked(len(events))
	wireSize := 0
	for i := range events {
		n := idLineLen(ids[i]) + len(bodies[i])
		if maxSize > 0 && n > maxSize {
			return nil, ErrEventTooLarge
		}
		wireSize += n
	}

	// The events' wire bytes share one allocation. An event in history
	// keeps all of it alive, which costs little: history holds consecutive
	// events, so only the batch at its old end can be held beyond the
	// history limits, and only in part.
	wires := make([]byte, 0, wireSize)
	now := h.now()
	var fan fanOutCache
	for i, e := range events {
		h.seq++
		e.Seq, e.ID, e.Time = h.seq, ids[i], now
		at := len(wires)
		wires = appendIDLine(wires, e.ID, bodies[i])
		e.wire = wires[at:len(wires):len(wires)]
		h.history = append(h.history, e)
		h.histBytes += int64(len(e.wire))
		var next *Event
		if i+1 < len(events) {
			next = events[i+1]
		}
		fan.fanOutLocked(h, e, next)
	}
	h.published.Add(uint64(len(events)))
	if idemKey != "" {
		h.idem[idemKey] = ids
		h.idemOrder = append(h.idemOrder, idemRecord{idemKey, h.seq})
	}
	h.trimLocked()
	return ids, nil
}

// nextIDsLocked returns the ids of the next n events. They share one
// string, built at once: a batch costs two allocations for its ids rather
// than two per event.
func (h *Hub) nextIDsLocked(n int) []string {
	if n == 1 {
		var buf [64]byte // an epoch of a dozen bytes, '-' and 20 digits at most
		b := append(buf[:0], h.epoch...)
		b = append(b, '-')
		return []string{string(strconv.AppendUint(b, h.seq+1, 10))}
	}
	last := strconv.FormatUint(h.seq+uint64(n), 10)
	buf := make([]byte, 0, n*(len(h.epoch)+1+len(last)))
	ends := make([]int, n)
	for i := range n {
		buf = append(buf, h.epoch...)
		buf = append(buf, '-')
		buf = strconv.AppendUint(buf, h.seq+uint64(i)+1, 10)
		ends[i] = len(buf)
	}
	all := string(buf)
	ids := make([]string, n)
	start := 0
	for i, end := range ends {
		ids[i], start = all[start:end], end
	}
	return ids
}

// fanOutCache remembers, within one Publish, the subscribers matching a
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

// fanOutLocked is h.fanOutLocked(e) for an event of a Publish; next is
// the event after it, if any.
func (c *fanOutCache) fanOutLocked(h *Hub, e, next *Event) {
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
			h.deliverLocked(s, e)
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
	deliver := func(s *Subscriber) { h.deliverLocked(s, e) }
	for _, t := range e.Topics {
		// The exact set is walked here rather than through each's callback:
		// it is the wide fan-out, where an indirect call per subscriber shows.
		for s := range h.index.exact[t] {
			h.deliverLocked(s, e)
		}
		if h.index.patterns.children > 0 {
			h.index.patterns.match(t, deliver)
		}
	}
}

func (h *Hub) deliverLocked(s *Subscriber, e *Event) {
	if s.lastSeq == e.Seq {
		return // already queued through another selector
	}
	if s.hasAfter && !s.after.less(e.sid) {
		return // the client has it: it resumed after this event
	}
	s.lastSeq = e.Seq
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

// trimLocked drops history beyond the count, size and age limits, and the
// idempotency keys whose events are gone.
func (h *Hub) trimLocked() {
	s := h.settings
	drop := 0
	if over := len(h.history) - s.History; over > 0 {
		drop = over
	}
	bytes := h.histBytes
	for i := 0; i < drop; i++ {
		bytes -= int64(len(h.history[i].wire))
	}
	for s.HistorySize > 0 && bytes > s.HistorySize && drop < len(h.history) {
		bytes -= int64(len(h.history[drop].wire))
		drop++
	}
	if s.HistoryAge > 0 {
		cutoff := h.now().Add(-s.HistoryAge)
		for drop < len(h.history) && h.history[drop].Time.Before(cutoff) {
			bytes -= int64(len(h.history[drop].wire))
			drop++
		}
	}
	if drop > 0 {
		if h.transport != nil {
			h.base = h.history[drop-1].sid
		}
		clear(h.history[:drop]) // let the collector have them
		h.history = h.history[drop:]
		h.histBytes = bytes
	}
	first := h.firstSeqLocked()
	n := 0
	for n < len(h.idemOrder) && h.idemOrder[n].lastSeq < first {
		delete(h.idem, h.idemOrder[n].key)
		n++
	}
	if n > 0 {
		h.idemOrder = h.idemOrder[n:]
	}
}

// firstSeqLocked is the sequence number of the oldest event in history, or
// the next one to be assigned when history is empty.
func (h *Hub) firstSeqLocked() uint64 {
	if len(h.history) > 0 {
		return h.history[0].Seq
	}
	return h.seq + 1
}

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
	// Identity and Remote are kept for operators.
	Identity string
	Remote   string
}

// Subscription is what Subscribe hands back: the subscriber, the history to
// write before any live event, and, when a resume id could not be honoured,
// why and the newest id to send with sse.reset.
type Subscription struct {
	*Subscriber
	Replay      []*Event
	ResetReason string
	NewestID    string
}

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
	reason string        // why done was closed; written before close
	retry  time.Duration // how long the client should stay away; written before close

	hub     *Hub
	removed bool   // guarded by hub.mu
	lastSeq uint64 // last event queued; guarded by hub.mu

	// With a transport, a subscriber may resume after an event this
	// instance has not read yet: events up to after are skipped. awaitLoad
	// marks one that subscribed before the mirror was loaded and gets its
	// replay from the load. Guarded by hub.mu.
	after     streamID
	hasAfter  bool
	awaitLoad bool
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
func (s *Subscriber) Reason() string { return s.reason }

// RetryAfter is how long the client should wait before reconnecting, set
// by the one who ended the subscription; 0 leaves the stream's retry as
// it is. Call it only after Done is closed.
func (s *Subscriber) RetryAfter() time.Duration { return s.retry }

// CountDrop counts the subscriber as dropped by its writer for reason,
// such as a write that failed.
func (s *Subscriber) CountDrop(reason string) { s.hub.CountDrop(reason) }

// Close removes the subscriber from its hub. It is idempotent.
func (s *Subscriber) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.removeLocked(s, "")
}

// Delivered records n events written to the subscriber's client.
func (s *Subscriber) Delivered(n int) { s.hub.delivered.Add(uint64(n)) }

// Subscribe registers a subscriber and returns it together with the history
// to replay, computed under the same lock so that replay and live events
// join without a gap or a duplicate.
func (h *Hub) Subscribe(req SubscribeRequest) (*Subscription, error) {
	if h.transport != nil {
		h.transport.start()
		h.waitLoaded()
	}
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
	var wait streamID // with a transport: skip events up to this one
	var hasWait, awaitLoad bool
	switch {
	case h.transport != nil && req.HasLastEventID:
		x, ok := parseStreamID(req.LastEventID)
		switch {
		case !ok:
			sub.ResetReason = ReasonUnknownID
		case !h.loaded:
			wait, hasWait, awaitLoad = x, true, true
		case x.less(h.base):
			sub.ResetReason = ReasonExpiredID
		case !h.last.less(x):
			i, _ := slices.BinarySearchFunc(h.history, x, func(e *Event, x streamID) int { return e.sid.compare(x) })
			if i < len(h.history) && h.history[i].sid == x {
				i++
			}
			sub.Replay = h.matchingLocked(req.Selectors, h.history[i:], 0)
		case x.ms > uint64(h.now().Add(maxClockSkew).UnixMilli()):
			sub.ResetReason = ReasonUnknownID
		default:
			// Newer than anything read here: published through another
			// instance a moment ago. Live events up to it are skipped.
			wait, hasWait = x, true
		}
		if sub.ResetReason != "" {
			sub.NewestID = cmp.Or(h.lastID, "0-0")
		}
	case req.HasLastEventID:
		seq, ok := h.parseID(req.LastEventID)
		first := h.firstSeqLocked()
		switch {
		case !ok || seq > h.seq:
			sub.ResetReason = ReasonUnknownID
		case seq+1 < first:
			sub.ResetReason = ReasonExpiredID
		default:
			sub.Replay = h.matchingLocked(req.Selectors, h.history[seq+1-first:], 0)
		}
		if sub.ResetReason != "" {
			sub.NewestID = h.idFor(h.seq)
		}
	case req.Replay > 0:
		sub.Replay = h.matchingLocked(req.Selectors, h.history, req.Replay)
	}

	h.nextSubID++
	s := &Subscriber{
		ID:        h.nextSubID,
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
		after:     wait,
		hasAfter:  hasWait,
		awaitLoad: awaitLoad,
	}
	for _, sel := range req.Selectors {
		h.index.add(sel, s)
	}
	h.subs[s.ID] = s
	h.perClient[req.Client]++
	h.replayed.Add(uint64(len(sub.Replay)))
	sub.Subscriber = s
	return sub, nil
}

// waitLoaded lets a subscriber of a new transport hub wait, briefly, for
// the mirror to be loaded from the stream, so that it misses nothing
// published after it came; with the store down it goes on without.
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

// matchingLocked returns the events of evs matched by any selector; with
// limit > 0, only the last limit of them.
func (h *Hub) matchingLocked(selectors []string, evs []*Event, limit int) []*Event {
	var out []*Event
	for i := len(evs) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if eventMatches(selectors, evs[i]) {
			out = append(out, evs[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func eventMatches(selectors []string, e *Event) bool {
	for _, sel := range selectors {
		for _, t := range e.Topics {
			if matchSelector(sel, t) {
				return true
			}
		}
	}
	return false
}

// removeLocked takes s out of every index. A non-empty reason tells the
// subscriber's writer, through Done, that the hub ended the stream.
func (h *Hub) removeLocked(s *Subscriber, reason string) {
	if s.removed {
		return
	}
	s.removed = true
	for _, sel := range s.Selectors {
		h.index.remove(sel, s)
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
}

// Disconnect ends the subscription with the given id, telling its writer
// the reason. It reports whether such a subscriber existed.
func (h *Hub) Disconnect(id uint64, reason string) bool {
	return h.DisconnectRetry(id, reason, 0)
}

// DisconnectRetry is Disconnect also telling the client how long to stay
// away (0: the stream's retry).
func (h *Hub) DisconnectRetry(id uint64, reason string, retry time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.subs[id]
	if ok {
		s.retry = retry
		h.removeLocked(s, reason)
	}
	return ok
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

// Close ends every subscription and refuses further use. The hub pool
// calls it when the last handler using the hub is cleaned up.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	for _, s := range h.subs {
		h.removeLocked(s, ReasonHubClosed)
	}
	h.history = nil
	h.histBytes = 0
	h.mu.Unlock()
	if h.transport != nil {
		h.transport.close() // outside the lock: its reader may be ingesting
	}
}

// Destruct implements caddy.Destructor for the hub pool.
func (h *Hub) Destruct() error {
	h.Close()
	return nil
}

// HubStats is a snapshot of a hub's counters.
type HubStats struct {
	Name         string `json:"name"`
	Subscribers  int    `json:"subscribers"`
	Topics       int    `json:"topics"`
	Published    uint64 `json:"events_published"`
	Delivered    uint64 `json:"events_delivered"`
	Replayed     uint64 `json:"events_replayed"`
	Dropped      uint64 `json:"subscribers_dropped"`
	HistoryLen   int    `json:"history_length"`
	HistoryBytes int64  `json:"history_bytes"`
	OldestID     string `json:"oldest_id,omitempty"`
	NewestID     string `json:"newest_id,omitempty"`
	// Transport is the state of the hub's transport; absent for memory.
	Transport *TransportStatus `json:"transport,omitempty"`
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() HubStats {
	var ts *TransportStatus
	if h.transport != nil {
		ts = h.transport.status()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st := HubStats{
		Transport:    ts,
		Name:         h.name,
		Subscribers:  len(h.subs),
		Topics:       h.index.selectors,
		Published:    h.published.Load(),
		Delivered:    h.delivered.Load(),
		Replayed:     h.replayed.Load(),
		Dropped:      h.dropped.Load(),
		HistoryLen:   len(h.history),
		HistoryBytes: h.histBytes,
	}
	if len(h.history) > 0 {
		st.OldestID = h.history[0].ID
		st.NewestID = h.history[len(h.history)-1].ID
	}
	return st
}
