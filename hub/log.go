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
	"time"
)

// Log is where a hub's events are stored and ordered: the memory log of
// one process, or a log shared by many (the Redis transport). A publish
// goes into the log; the log hands every event it stored, in its order,
// back to the hub through the Sink it was opened with, and that is the
// only way events reach the hub's history and its subscribers. A log
// shared by many processes delivers each event to every process's hub,
// whichever process appended it.
//
// The hub never interprets ids: a log names each position with an id and
// reads its own ids back for a client's resume.
type Log interface {
	// Open attaches the log to its hub. It is called once, by New, and
	// must not do I/O; the log may deliver through sink from then on.
	Open(sink Sink)
	// Start begins reading a shared log; it is idempotent, and a no-op
	// for a log that needs no reading. The hub calls it on first use;
	// its owner may call it earlier.
	Start()
	// Append stores events, all or none, and returns their ids once the
	// log has them. With a non-empty idemKey the log already holds, it
	// stores nothing and returns the ids stored under that key. An event
	// whose encoding with its id would exceed maxSize bytes (0: no limit)
	// fails the whole append with ErrEventTooLarge; a log that cannot
	// be reached fails with an error wrapping ErrUnavailable.
	Append(ctx context.Context, events []*Event, idemKey string, maxSize int) ([]string, error)
	// ParseID returns the position of one of this log's ids; ok is false
	// for anything else, such as an id of an earlier process or junk.
	ParseID(id string) (pos Position, ok bool)
	// FormatID returns the id of a position, for a position that holds
	// no event (the start of the log, or one that was trimmed).
	FormatID(pos Position) string
	// MayArrive reports whether an event at pos, past every event the
	// hub has been given, may still be delivered: true for a position a
	// shared log's other writers may have just used.
	MayArrive(pos Position) bool
	// Status tells operators how the log is doing; nil for the memory log.
	Status() *TransportStatus
	// Close stops reading and gives back what the log holds; it is
	// idempotent. The hub calls it when it is closed.
	Close()
}

// Sink is a hub as a log sees it.
type Sink interface {
	// Deliver gives the hub events the log stored. Deliveries must come
	// one at a time, in the log's order.
	Deliver(Delivery)
	// Settings returns the hub's current settings, which bound what a
	// shared log keeps and what it loads.
	Settings() Settings
}

// Delivery is what a log gives its hub.
type Delivery struct {
	// Events are stored events in the log's order, each made with
	// NewStoredEvent (or by the memory log). Events at or before a
	// position already delivered are ignored.
	Events []*Event
	// Reload replaces the hub's history with Events, which are the
	// newest events of the log: every event after Base is among them.
	// The first delivery of every log is a reload.
	Reload bool
	// Base is, for a reload, the position just before Events.
	Base Position
	// Gap, with Reload, says that the log lost events this hub had not
	// been given: every stream ends with ReasonGap, so that its client
	// resumes and learns what it missed.
	Gap bool
	// Live, on the log's first delivery (a reload), is the position after
	// which the log stored what came once the hub's first subscribers
	// could have come: a subscriber that came before the first delivery
	// without a resume point gets the Events after Live, and none of them
	// when Live is the zero Position.
	Live Position
	// Horizon, when not zero, is a position up to which the log is
	// settled: an event at or before it that the hub has not been given
	// never will be, so a resume id at or before it that is not in
	// history is one the log lost or never had (a reset, not a wait). It
	// only moves forward.
	Horizon Position
}

// Position is where an event sits in its log, for the hub to order
// events by and to find a resume point in its history. A log chooses
// what its two numbers mean; the hub only compares them, Major first.
type Position struct{ Major, Minor uint64 }

// Compare returns -1, 0 or +1 as p is before, at or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Major < q.Major:
		return -1
	case p.Major > q.Major:
		return 1
	case p.Minor < q.Minor:
		return -1
	case p.Minor > q.Minor:
		return 1
	}
	return 0
}

// Less reports whether p is before q.
func (p Position) Less(q Position) bool { return p.Compare(q) < 0 }

// ErrUnavailable means the log's store cannot be reached; a publish gets
// a 503 and may be retried.
var ErrUnavailable = errors.New("the event store is unavailable; retry later")

// TransportStatus is what operators see of a shared log (/sse/hubs and
// the metrics).
type TransportStatus struct {
	// Name of the transport, such as "redis".
	Name string `json:"name"`
	// Connected tells whether the last exchange with the store succeeded.
	Connected bool `json:"connected"`
	// LastError is the error of the last failed exchange, while failing.
	LastError string `json:"last_error,omitempty"`
	// LastID is the newest id this instance has read from the log.
	LastID string `json:"last_id,omitempty"`
	// LagMillis is how far behind the log the reader was at its last
	// read: the age of the newest event it had then read.
	LagMillis int64 `json:"lag_ms"`
	// InFlight is the number of publishes waiting for the store.
	InFlight int `json:"publishes_in_flight"`
}

// NewStoredEvent returns an event as a log read it back: its id and
// position, when it was stored, its topics and its body as Body encoded
// it. The event is ready to be delivered.
func NewStoredEvent(id string, pos Position, stored time.Time, topics []string, body []byte) *Event {
	e := &Event{ID: id, Pos: pos, Topics: topics, Time: stored}
	e.wire = appendIDLine(make([]byte, 0, IDLineLen(id)+len(body)), id, body)
	return e
}

// NewStoredPublisherEvent is NewStoredEvent for an event its publisher
// gave an id: id is that id, and pos the log's position of the event.
func NewStoredPublisherEvent(id string, pos Position, stored time.Time, topics []string, body []byte) *Event {
	e := NewStoredEvent(id, pos, stored, topics, body)
	e.pub = true
	return e
}
