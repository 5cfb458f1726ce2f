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

import "slices"

// trimLocked drops history beyond the count, size and age limits.
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
		h.base = h.history[drop-1].Pos
		if len(h.pubIDs) > 0 {
			h.forgetPubIDsLocked(h.history[:drop])
		}
		clear(h.history[:drop]) // let the collector have them
		h.history = h.history[drop:]
		h.histBytes = bytes
	}
}

// oldestKept applies the history limits and returns the position of the
// oldest event in history; ok is false when history is empty.
func (h *Hub) oldestKept() (pos Position, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.trimLocked()
	if len(h.history) == 0 {
		return Position{}, false
	}
	return h.history[0].Pos, true
}

// afterLocked returns the events of history after pos.
func (h *Hub) afterLocked(pos Position) []*Event {
	i, found := slices.BinarySearchFunc(h.history, pos, func(e *Event, p Position) int { return e.Pos.Compare(p) })
	if found {
		i++
	}
	return h.history[i:]
}

// matchingLocked returns the events of evs matched by any selector; with
// limit > 0, only the last limit of them.
func matchingLocked(s *Subscriber, evs []*Event, limit int) []*Event {
	var out []*Event
	for i := len(evs) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if s.wants(evs[i]) {
			out = append(out, evs[i])
		}
	}
	slices.Reverse(out)
	return out
}

// wants reports whether s gets e: through its Match, or its selectors
// (native subscribers never get private events, nor opaque topics that
// are not native topics).
func (s *Subscriber) wants(e *Event) bool {
	if s.match != nil {
		return s.match(e)
	}
	if e.Private {
		return false
	}
	return eventMatches(s.Selectors, e)
}

func eventMatches(selectors []string, e *Event) bool {
	for _, sel := range selectors {
		for _, t := range e.Topics {
			if e.Opaque && ValidateTopic(t) != nil {
				continue
			}
			if MatchSelector(sel, t) {
				return true
			}
		}
	}
	return false
}
