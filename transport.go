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
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Transport is a guest module of the sse.transports namespace: where a
// hub stores its events and where its fan-out reads them from.
type Transport interface {
	caddy.Module
	// identity tells two configurations of the same backing store apart
	// from two different ones; hubs are pooled by name and identity.
	identity() string
	// newHubTransport attaches the transport to a new hub. It must not
	// reach the network: provisioning works offline.
	newHubTransport(h *Hub, logger *zap.Logger) hubTransport
}

// hubTransport is one hub's live connection to its transport. The memory
// transport has none: the hub is its own store.
type hubTransport interface {
	// start begins reading the shared stream; it is idempotent.
	start()
	// publish stores events, all or none, and returns their ids once the
	// store has them. An unavailable store gives an error wrapping
	// errUnavailable.
	publish(ctx context.Context, events []*Event, idemKey string, maxSize int) ([]string, error)
	status() *TransportStatus
	// close stops the reader and closes connections; it is idempotent.
	close()
}

// TransportStatus is what /sse/hubs and the metrics show of a transport.
type TransportStatus struct {
	Name string `json:"name"`
	// Connected tells whether the last exchange with the store succeeded.
	Connected bool   `json:"connected"`
	LastError string `json:"last_error,omitempty"`
	// LastID is the newest id this instance has read from the stream.
	LastID string `json:"last_id,omitempty"`
	// LagMillis is how far behind the stream the reader was at its last
	// read: the age of the newest event it had then read.
	LagMillis int64 `json:"lag_ms"`
	// InFlight is the number of publishes waiting for the store.
	InFlight int `json:"publishes_in_flight"`
}

// errUnavailable means the transport's store cannot be reached; a publish
// gets a 503.
var errUnavailable = errors.New("the event store is unavailable; retry later")

// MemoryTransport keeps a hub's events in the memory of this Caddy
// instance: nothing to install, no sharing between instances. It is the
// default.
type MemoryTransport struct{}

// CaddyModule returns the Caddy module information.
func (MemoryTransport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sse.transports.memory",
		New: func() caddy.Module { return new(MemoryTransport) },
	}
}

func (MemoryTransport) identity() string { return "" }

func (MemoryTransport) newHubTransport(*Hub, *zap.Logger) hubTransport { return nil }

// Store publishes events through the hub's transport: into the hub itself
// for memory, into the shared stream for Redis. The events must have passed
// validate. See Publish for idemKey and maxSize.
func (h *Hub) Store(ctx context.Context, events []*Event, idemKey string, maxSize int) ([]string, error) {
	if h.transport == nil {
		return h.Publish(events, idemKey, maxSize)
	}
	h.transport.start()
	start := time.Now()
	ids, err := h.transport.publish(ctx, events, idemKey, maxSize)
	if err == nil {
		h.publishLatency.observe(time.Since(start))
	}
	return ids, err
}

// maxClockSkew is how far in the future a resume id may be before it is
// taken for junk rather than an event another instance has just stored.
const maxClockSkew = 10 * time.Second

// firstLoadWait bounds how long a subscriber waits for a new hub's first
// load from its transport.
const firstLoadWait = 2 * time.Second

// streamID is a Redis stream id, <milliseconds>-<sequence>.
type streamID struct{ ms, seq uint64 }

// parseStreamID accepts only a complete id in canonical form: Redis's
// special ids ($, +, -, >, *) and shorthands ("5", "5-") are refused, so a
// client's Last-Event-ID is never passed through as one.
func parseStreamID(s string) (streamID, bool) {
	if len(s) > 41 {
		return streamID{}, false
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	ms, ok1 := parseCanonicalUint(a)
	seq, ok2 := parseCanonicalUint(b)
	return streamID{ms, seq}, ok1 && ok2
}

func parseCanonicalUint(s string) (uint64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func (a streamID) compare(b streamID) int {
	switch {
	case a.ms != b.ms:
		if a.ms < b.ms {
			return -1
		}
		return 1
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

func (a streamID) less(b streamID) bool { return a.compare(b) < 0 }

func (a streamID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// ingest adds events read from the transport's stream, oldest first, to
// history and queues each for every matching subscriber, as Publish does
// for the memory transport. Events at or before the newest one ingested
// are ignored.
func (h *Hub) ingest(events []*Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	n := 0
	for _, e := range events {
		if !h.last.less(e.sid) {
			continue
		}
		h.appendLocked(e)
		h.fanOutLocked(e)
		n++
	}
	h.published.Add(uint64(n))
	h.trimLocked()
}

// load replaces history with the newest events of the stream, oldest
// first, every event after base among them. Subscribers that resumed
// before the first load get their replay from it; on a reload after a
// gap, every subscriber is ended so its client resumes and learns what it
// missed.
func (h *Hub) load(events []*Event, base streamID, gap bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if gap {
		for _, s := range h.subs {
			s.retry = shortRetry()
			h.removeLocked(s, ReasonGap)
		}
	}
	clear(h.history)
	h.history, h.histBytes = h.history[:0], 0
	h.base, h.last, h.lastID = base, base, base.String()
	var waiting []*Subscriber
	for _, s := range h.subs {
		if s.awaitLoad {
			s.awaitLoad = false
			if s.after.less(base) {
				s.retry = shortRetry()
				h.removeLocked(s, ReasonExpiredID)
				continue
			}
			waiting = append(waiting, s)
		}
	}
	for _, e := range events {
		if !h.last.less(e.sid) {
			continue
		}
		h.appendLocked(e)
		for _, s := range waiting {
			if !s.removed && eventMatches(s.Selectors, e) {
				h.deliverLocked(s, e)
			}
		}
	}
	if !h.loaded {
		h.loaded = true
		close(h.loadedCh)
	}
	h.trimLocked()
}

// appendLocked adds an ingested event to history; it gets the next local
// sequence number, which orders deliveries within this instance.
func (h *Hub) appendLocked(e *Event) {
	h.seq++
	e.Seq = h.seq
	h.last, h.lastID = e.sid, e.ID
	h.history = append(h.history, e)
	h.histBytes += int64(len(e.wire))
}
