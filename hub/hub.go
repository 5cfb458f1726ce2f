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
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Settings are a hub's limits. Every handler naming the hub in one Caddy
// config must agree on them; a reload may change them.
type Settings struct {
	// History is how many events are kept for replay; 0 keeps none.
	History int
	// HistoryAge drops events older than this; 0 keeps them regardless of age.
	HistoryAge time.Duration
	// HistorySize bounds the bytes of encoded events kept; 0 means no bound.
	HistorySize int64
	// MaxSubscribers bounds concurrent subscribers; 0 means unlimited.
	MaxSubscribers int
	// Presence tracks the members of every exact topic, for queries and
	// sse.join/sse.leave (an Observer turns tracking on without it).
	Presence bool
	// PresenceGrace is how long a member whose last stream closed, or a
	// topic whose last stream closed, stays; 0 means DefaultPresenceGrace.
	PresenceGrace time.Duration
}

// Errors returned by the hub.
var (
	// ErrCapacity means max_subscribers or max_per_client is reached.
	ErrCapacity = errors.New("hub is at capacity")
	// ErrEventTooLarge means an encoded event exceeds the size limit.
	ErrEventTooLarge = errors.New("event is larger than max_event_size")
	// ErrHubClosed means the hub was closed; no handler uses it any more.
	ErrHubClosed = errors.New("hub is closed")
)

// Options configure a new hub.
type Options struct {
	// Log stores and orders the hub's events. Default: a memory log of
	// this process.
	Log Log
	// Now is the hub's clock. Default: time.Now.
	Now func() time.Time
	// AfterFunc runs f once d has passed on the hub's clock, for the
	// presence grace. Default: time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) Timer
	// Observer receives presence and occupancy events; setting one turns
	// tracking on. Default: none.
	Observer Observer
}

// Hub fans events out to subscribers and keeps a bounded history for
// replay. It is plain Go, safe for concurrent use, and knows nothing of
// HTTP or Caddy. Events reach it from its Log, one delivery at a time;
// one mutex guards the history and the subscribers, which is what makes
// "register and snapshot history" atomic for a resuming subscriber, so
// there is no gap and no duplicate between replay and live events.
type Hub struct {
	name string
	log  Log
	now  func() time.Time

	mu        sync.Mutex
	settings  Settings
	closed    bool
	seq       uint64   // deliveries so far: orders events within this hub
	history   []*Event // oldest first, in log order
	histBytes int64
	base      Position            // history holds every delivered event after base
	last      Position            // newest event delivered
	lastID    string              // its id, or the log's id of base
	lastPub   bool                // lastID is a publisher's id (Event.ID set before Publish)
	pubIDs    map[string]Position // publisher id → newest position in history with it; see pubid.go
	horizon   Position            // the log will deliver nothing at or before it (Delivery.Horizon)

	loaded   bool          // the log's first delivery (a reload) came
	loadedCh chan struct{} // closed once loaded
	loadWait time.Duration // how long a subscriber waits for the first load

	index     *topicIndex // selectors → subscribers
	subs      map[uint64]*Subscriber
	matchers  map[*Subscriber]struct{} // subscribers with a Match (Mercure), not in index
	perClient map[string]int
	nextSubID uint64

	published atomic.Uint64
	delivered atomic.Uint64
	replayed  atomic.Uint64
	dropped   atomic.Uint64
	drops     map[Reason]*atomic.Uint64 // one per DropReasons; the map is never written after New

	publishLatency latencyHistogram

	// Presence: nil while not tracked, which is all the hub then pays.
	pres          *presence
	afterFunc     func(time.Duration, func()) Timer
	observer      Observer
	pevents       []PresenceEvent // for the observer, once the lock is released
	spareEvents   []PresenceEvent
	pendingEvents atomic.Bool // pevents is not empty
	emitting      bool        // a goroutine is handing events to the observer
}

// firstLoadWait bounds how long a subscriber waits for a shared log's
// first delivery.
const firstLoadWait = 2 * time.Second

// New returns an empty hub with the given name and settings.
func New(name string, settings Settings, opts Options) *Hub {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AfterFunc == nil {
		opts.AfterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	h := &Hub{
		name:      name,
		now:       opts.Now,
		settings:  settings,
		index:     newTopicIndex(),
		subs:      make(map[uint64]*Subscriber),
		matchers:  make(map[*Subscriber]struct{}),
		perClient: make(map[string]int),
		drops:     make(map[Reason]*atomic.Uint64, len(DropReasons)),
		loadedCh:  make(chan struct{}),
		loadWait:  firstLoadWait,
		afterFunc: opts.AfterFunc,
		observer:  opts.Observer,
	}
	for _, reason := range DropReasons {
		h.drops[reason] = new(atomic.Uint64)
	}
	h.log = opts.Log
	if h.log == nil {
		h.log = newMemoryLog(h)
	}
	h.syncTrackingLocked() // not shared yet: no lock needed; after the log, which may share presence
	h.log.Open(sink{h})
	return h
}

// sink is the hub's side of its log; it keeps Deliver off the hub's API.
type sink struct{ h *Hub }

func (s sink) Deliver(d Delivery) { s.h.deliver(d) }
func (s sink) Settings() Settings { return s.h.Settings() }

// Name returns the hub's name.
func (h *Hub) Name() string { return h.name }

// Log returns the hub's log.
func (h *Hub) Log() Log { return h.log }

// Settings returns the hub's current settings.
func (h *Hub) Settings() Settings {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.settings
}

// Apply replaces the hub's settings, trimming history to the new limits
// and starting or stopping presence tracking.
func (h *Hub) Apply(s Settings) {
	defer h.flushPresence()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settings = s
	h.trimLocked()
	h.syncTrackingLocked()
}

// Publish stores events in the hub's log, all or none, and returns their
// ids. The events must have passed Validate; the hub takes them over. A
// publish that returns without error is stored: with the memory log, it
// is also in history and queued for every matching subscriber. With a
// non-empty idempotency key the log has seen, it stores nothing and
// returns the original ids. An event that would be larger than maxSize
// bytes encoded (0: no limit) fails the publish with ErrEventTooLarge; a
// log that cannot be reached with an error wrapping ErrUnavailable.
func (h *Hub) Publish(ctx context.Context, events []*Event, idemKey string, maxSize int) ([]string, error) {
	if h.isClosed() {
		return nil, ErrHubClosed
	}
	if len(events) == 0 {
		return nil, nil // nothing to store; a log may assume at least one
	}
	h.log.Start()
	start := time.Now()
	ids, err := h.log.Append(ctx, events, idemKey, maxSize)
	if err == nil {
		h.publishLatency.observe(time.Since(start))
	}
	return ids, err
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Drops returns the counts of dropped subscribers by reason, for every
// one of DropReasons.
func (h *Hub) Drops() map[Reason]uint64 {
	m := make(map[Reason]uint64, len(h.drops))
	for reason, c := range h.drops {
		m[reason] = c.Load()
	}
	return m
}

// CountDrop counts a subscriber dropped, or turned away, for reason in
// Drops. Stats' Dropped counts only the subscribers the hub removed.
func (h *Hub) CountDrop(reason Reason) {
	c, ok := h.drops[reason]
	if !ok {
		c = h.drops[ReasonOther]
	}
	c.Add(1)
}

// Disconnect ends the subscription with the given id, telling its writer
// the reason and how long the client should stay away (0: the stream's
// retry). It reports whether such a subscriber existed.
func (h *Hub) Disconnect(id uint64, reason Reason, retry time.Duration) bool {
	defer h.flushPresence()
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.subs[id]
	if ok {
		s.retry = retry
		h.removeLocked(s, reason)
	}
	return ok
}

// Close ends every subscription, closes the log and refuses further use.
// The observer gets the disconnects; pending leaves and vacates are
// forgotten with the hub.
func (h *Hub) Close() {
	defer h.flushPresence()
	h.mu.Lock()
	h.closed = true
	for _, s := range h.subs {
		h.removeLocked(s, ReasonHubClosed)
	}
	if h.pres != nil {
		h.stopTrackingLocked()
	}
	h.history = nil
	h.pubIDs = nil
	h.histBytes = 0
	h.mu.Unlock()
	h.log.Close() // outside the lock: a reader may be delivering
}

// Stats is a snapshot of a hub's counters.
type Stats struct {
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
	// Transport is the state of a shared log; absent for memory.
	Transport *TransportStatus `json:"transport,omitempty"`
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() Stats {
	ts := h.log.Status()
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{
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
