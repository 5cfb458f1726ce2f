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
	"crypto/rand"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memoryLog is the log of a hub kept by this process alone: appending
// an event delivers it to the hub at once, so that a publish returns
// once its events are in history and queued for every subscriber. Ids are
// <epoch>-<n>: the epoch tells this process's ids from those of earlier
// processes and other hubs, n counts the hub's events from 1.
type memoryLog struct {
	hub   *Hub // the hub this log belongs to: history bounds idempotency keys
	epoch string

	mu        sync.Mutex // one append at a time: delivery order is id order
	sink      Sink
	n         uint64              // last number assigned
	idem      map[string][]string // Idempotency-Key → ids, while their events are in history
	idemOrder []idemRecord        // keys in publish order, for expiry with history
}

type idemRecord struct {
	key  string
	last Position // of the key's last event
}

func newMemoryLog(h *Hub) *memoryLog {
	return &memoryLog{hub: h, epoch: newEpoch(h.now()), idem: make(map[string][]string)}
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

func (m *memoryLog) Open(sink Sink) {
	m.sink = sink
	sink.Deliver(Delivery{Reload: true}) // an empty log: loaded at once
}

func (m *memoryLog) Start()                   {}
func (m *memoryLog) Close()                   {}
func (m *memoryLog) Status() *TransportStatus { return nil }
func (m *memoryLog) MayArrive(Position) bool  { return false }

func (m *memoryLog) FormatID(pos Position) string {
	return m.epoch + "-" + strconv.FormatUint(pos.Minor, 10)
}

// ParseID accepts only this log's ids, in canonical form.
func (m *memoryLog) ParseID(id string) (Position, bool) {
	if len(id) > len(m.epoch)+21 {
		return Position{}, false
	}
	epoch, num, ok := strings.Cut(id, "-")
	if !ok || epoch != m.epoch || num == "" || num[0] == '+' {
		return Position{}, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != num {
		return Position{}, false
	}
	return Position{Minor: n}, true
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
	for i := range events {
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
		var buf [64]byte // an epoch of a dozen bytes, '-' and 20 digits at most
		b := append(buf[:0], m.epoch...)
		b = append(b, '-')
		return []string{string(strconv.AppendUint(b, m.n+1, 10))}
	}
	last := strconv.FormatUint(m.n+uint64(n), 10)
	buf := make([]byte, 0, n*(len(m.epoch)+1+len(last)))
	ends := make([]int, n)
	for i := range n {
		buf = append(buf, m.epoch...)
		buf = append(buf, '-')
		buf = strconv.AppendUint(buf, m.n+uint64(i)+1, 10)
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
