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
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPublisherIDLen is the longest id a publisher may give an event, in
// bytes.
const MaxPublisherIDLen = 256

// ErrPublisherID is wrapped by every error of ValidatePublisherID: the
// glue answers it with a 400, the error's text telling what is wrong.
var ErrPublisherID = errors.New("invalid event id")

var (
	errPubIDLong  = publisherIDError("is longer than 256 bytes")
	errPubIDChars = publisherIDError("contains CR, LF, NUL or another control character")
	errPubIDUTF8  = publisherIDError("is not valid UTF-8")
	errPubIDSpace = publisherIDError("starts or ends with white space")
)

type publisherIDError string

func (e publisherIDError) Error() string { return "event id " + string(e) }
func (e publisherIDError) Unwrap() error { return ErrPublisherID }

// ValidatePublisherID checks an id a publisher gives an event (see
// Event.ID); the empty id, meaning "none", is valid. An id must be
// printable UTF-8 of at most MaxPublisherIDLen bytes: a control character
// would break the id: line or be dropped by EventSource (NUL), and white
// space at either end would not survive the Last-Event-ID header, so the
// client could not resume from it.
func ValidatePublisherID(id string) error {
	switch {
	case len(id) > MaxPublisherIDLen:
		return errPubIDLong
	case !utf8.ValidString(id):
		return errPubIDUTF8
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return errPubIDChars
	case id != strings.TrimSpace(id):
		return errPubIDSpace
	}
	return nil
}

// Publisher ids. An event published with an ID keeps it (Event.pub) and
// the hub maps each such id in history to the newest position that
// carried it, so that a resume from it costs one map lookup. Hub order is
// the log's: a publisher id names an event, it does not order it.
//
// A resume id is looked up among publisher ids first, then read as the
// log's own id. A hub id is 22 base64url characters that decrypt to a
// position; for the Redis log every such string decrypts to some
// position, so a publisher whose ids happen to look like that (random
// 16-byte ids in base64url, say) would otherwise never resume. The other
// way round, a hub id is a publisher id only when a publisher copied it
// on purpose, and then it names that publisher's event while it is in
// history; once trimmed, it is read as a hub id again.

// notePubIDLocked records e's publisher id, if any, as it joins history.
func (h *Hub) notePubIDLocked(e *Event) {
	if h.pubIDs == nil {
		h.pubIDs = make(map[string]Position)
	}
	h.pubIDs[e.ID] = e.Pos // history is in log order: e is the newest with it
}

// forgetPubIDsLocked drops the publisher ids of events leaving history,
// unless a newer event still carries the same id.
func (h *Hub) forgetPubIDsLocked(gone []*Event) {
	for _, e := range gone {
		if e.pub && h.pubIDs[e.ID] == e.Pos {
			delete(h.pubIDs, e.ID)
		}
	}
}

// resolveIDLocked returns the position a resume id names: that of the
// newest event in history published with it as its id, or else the
// position of one of the log's ids.
func (h *Hub) resolveIDLocked(id string) (Position, bool) {
	if len(h.pubIDs) > 0 {
		if pos, ok := h.pubIDs[id]; ok {
			return pos, true
		}
	}
	return h.log.ParseID(id)
}

// resetIDLocked is the id of the hub's newest position when history does
// not hold it: the log's own id for it, since a publisher id is only
// resumable while its event is in history.
func (h *Hub) resetIDLocked() string {
	if h.lastPub {
		return h.log.FormatID(h.last)
	}
	return h.lastID
}
