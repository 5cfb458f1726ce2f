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
	"sync"
)

// memoryLog is the log of a hub kept by this process alone: appending
// an event delivers it to the hub at once, so that a publish returns
// once its events are in history and queued for every subscriber. It
// numbers the hub's events from 1; ids are these numbers under a key of
// this hub alone (see IDCipher), so an id of an earlier process or
// another hub is unknown here.
type memoryLog struct {
	hub *Hub // the hub this log belongs to: history bounds idempotency keys
	ids *IDCipher

	mu        sync.Mutex // one append at a time: delivery order is id order
	sink      Sink
	n         uint64              // last number assigned
	scratch   [16]byte            // for ids; see IDCipher.appendID
	idem      map[string][]string // Idempotency-Key → ids, while their events are in history
	idemOrder []idemRecord        // keys in publish order, for expiry with history
}

type idemRecord struct {
	key  string
	last Position // of the key's last event
}

func newMemoryLog(h *Hub) *memoryLog {
	ids, _ := NewIDCipher(NewIDKey()) // it fails only for a key of another length
	return &memoryLog{hub: h, ids: ids, idem: make(map[string][]string)}
}

func (m *memoryLog) Open(sink Sink) {
	m.sink = sink
	sink.Deliver(Delivery{Reload: true}) // an empty log: loaded at once
}

func (m *memoryLog) Start()                   {}
func (m *memoryLog) Close()                   {}
func (m *memoryLog) Status() *TransportStatus { return nil }
func (m *memoryLog) MayArrive(Position) bool  { return false }

func (m *memoryLog) FormatID(pos Position) string { return m.ids.ID(pos) }

// ParseID accepts only this log's ids: those that decrypt to a position
// of the form the log gives (Major 0).
func (m *memoryLog) ParseID(id string) (Position, bool) {
	pos, ok := m.ids.Position(id)
	return pos, ok && pos.Major == 0
}

func (m *memoryLog) Append(_ context.Context, events []*Event, idemKey string, maxSize int) ([]string, error) {
	bodies := make([][]byte, len(events))
	for i, e := range events {
		bodies[i] = e.Body()
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if idemKey != "" {
		m.expireKeys()
		if ids, ok := m.idem[idemKey]; ok {
			return ids, nil
		}
	}
	ids := m.nextIDs(len(events))
	wireSize := 0
	for i, e := range events {
		if e.ID != "" {
			ids[i] = e.ID // the publisher's: kept, see Event.ID
			e.pub = true
		}
		n := IDLineLen(ids[i]) + len(bodies[i])
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
	now := m.hub.now()
	for i, e := range events {
		m.n++
		e.ID, e.Pos, e.Time = ids[i], Position{Minor: m.n}, now
		at := len(wires)
		wires = appendIDLine(wires, e.ID, bodies[i])
		e.wire = wires[at:len(wires):len(wires)]
	}
	m.sink.Deliver(Delivery{Events: events})
	if idemKey != "" {
		m.idem[idemKey] = ids
		m.idemOrder = append(m.idemOrder, idemRecord{idemKey, events[len(events)-1].Pos})
	}
	return ids, nil
}

// expireKeys forgets the idempotency keys whose events have left history:
// a key is known only while a client could still resume from its events.
func (m *memoryLog) expireKeys() {
	oldest, ok := m.hub.oldestKept()
	n := 0
	for n < len(m.idemOrder) && (!ok || m.idemOrder[n].last.Less(oldest)) {
		delete(m.idem, m.idemOrder[n].key)
		n++
	}
	if n > 0 {
		m.idemOrder = m.idemOrder[n:]
	}
}

// nextIDs returns the ids of the next n events. They share one string,
// built at once: a batch costs two allocations for its ids rather than
// two per event.
func (m *memoryLog) nextIDs(n int) []string {
	if n == 1 {
		var buf [IDLen]byte
		return []string{string(m.ids.appendID(buf[:0], Position{Minor: m.n + 1}, &m.scratch))}
	}
	buf := make([]byte, 0, n*IDLen)
	for i := range n {
		buf = m.ids.appendID(buf, Position{Minor: m.n + uint64(i) + 1}, &m.scratch)
	}
	all := string(buf)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = all[i*IDLen : (i+1)*IDLen]
	}
	return ids
}
