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
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/caddy-sse/caddy-sse/hub"
)

// scanJSONEvents reads a JSON publish body of the usual shape, an event
// object or an array of them, without reflection and with a few
// allocations per body rather than about ten per event: a batch of 1,000
// events spent most of its time in encoding/json.
//
// It gives up (ok false) on anything it is not sure of: a syntax error, a
// null, an empty batch, an event without topics, a key spelled other than
// in lower case, a key given twice, an escaped key, an unknown field, or an
// event that jsonEvent.event would refuse. The body then goes through encoding/json
// (parseJSONEvents), whose result and error messages stay the reference;
// when scanJSONEvents succeeds, its events equal what that path returns.
// The body must be valid UTF-8.
//
// The strings of all the events share one allocation, and so do their
// Event structs and their topic lists. An event kept in history keeps its
// batch's allocation alive, which costs little: history holds consecutive
// events, so at most the batch at its old end is held in part.
func scanJSONEvents(body []byte, withHub bool) (events []*hub.Event, batch bool, hubName string, ok bool) {
	// Every event is an object of at least 24 bytes: the lists are sized
	// for that many events, with a topic each, from the start, up to a
	// bound so that a body of braces does not buy a large allocation.
	hint := min(bytes.Count(body, []byte{'{'}), len(body)/24+1, 4096)
	s := eventScanner{in: body, withHub: withHub, text: make([]byte, 0, len(body)),
		topics: make([]textSpan, 0, hint), events: make([]scannedEvent, 0, hint)}
	s.skipSpace()
	switch s.peek() {
	case '{':
		if !s.object() {
			return nil, false, "", false
		}
	case '[':
		batch = true
		s.pos++
		for {
			s.skipSpace()
			if !s.object() {
				return nil, false, "", false
			}
			s.skipSpace()
			c := s.peek()
			s.pos++
			if c == ']' {
				break
			}
			if c != ',' {
				return nil, false, "", false
			}
		}
	default:
		return nil, false, "", false
	}
	s.skipSpace()
	if s.pos != len(s.in) {
		return nil, false, "", false
	}
	events, hubName, ok = s.build()
	return events, batch, hubName, ok
}

// The fields of an event object, as bits of scannedEvent.seen.
const (
	fieldTopic = 1 << iota
	fieldTopics
	fieldEvent
	fieldType
	fieldData
	fieldRetry
	fieldHub
)

// textSpan is a string of eventScanner.text, by offsets.
type textSpan struct{ start, end int }

// scannedEvent is one event object read by eventScanner.
type scannedEvent struct {
	seen                 int // fields given, field* bits
	firstTopic, endTopic int // its topics: eventScanner.topics[firstTopic:endTopic]
	event, typ, data     textSpan
	hub                  textSpan
	retry                int64 // milliseconds
}

type eventScanner struct {
	in      []byte
	pos     int
	withHub bool

	text    []byte     // the decoded strings of every event, back to back
	topics  []textSpan // the topics of every event, in order
	events  []scannedEvent
	compact bytes.Buffer // scratch for data given as a JSON value
}

// peek returns the byte at pos, or 0 at the end of the input, which no
// valid token starts with.
func (s *eventScanner) peek() byte {
	if s.pos < len(s.in) {
		return s.in[s.pos]
	}
	return 0
}

func (s *eventScanner) skipSpace() {
	for s.pos < len(s.in) {
		switch s.in[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// object reads one event object.
func (s *eventScanner) object() bool {
	if s.peek() != '{' {
		return false
	}
	s.pos++
	ev := scannedEvent{firstTopic: len(s.topics), endTopic: len(s.topics)}
	for {
		s.skipSpace()
		key, ok := s.key()
		if !ok {
			return false
		}
		s.skipSpace()
		if s.peek() != ':' {
			return false
		}
		s.pos++
		s.skipSpace()
		var field int
		switch string(key) {
		case "topic":
			field = fieldTopic
			sp, ok := s.str()
			if !ok {
				return false
			}
			s.topics = append(s.topics, sp)
			ev.endTopic = len(s.topics)
		case "topics":
			field = fieldTopics
			if !s.topicList() {
				return false
			}
			ev.endTopic = len(s.topics)
		case "event":
			field = fieldEvent
			ev.event, ok = s.str()
		case "type":
			field = fieldType
			ev.typ, ok = s.str()
		case "data":
			field = fieldData
			if s.peek() == '"' {
				ev.data, ok = s.str()
			} else {
				ev.data, ok = s.value()
			}
		case "retry":
			field = fieldRetry
			ev.retry, ok = s.retry()
		case "hub":
			if !s.withHub {
				return false
			}
			field = fieldHub
			ev.hub, ok = s.str()
		default:
			return false
		}
		if !ok || ev.seen&field != 0 {
			return false
		}
		ev.seen |= field
		s.skipSpace()
		c := s.peek()
		s.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			return false
		}
	}
	// What jsonEvent.event refuses, it refuses with a message: leave that
	// to it.
	if ev.seen&fieldData == 0 || ev.endTopic == ev.firstTopic ||
		ev.seen&(fieldTopic|fieldTopics) == fieldTopic|fieldTopics ||
		(ev.event.end > ev.event.start && ev.typ.end > ev.typ.start) {
		return false
	}
	if ev.typ.end > ev.typ.start {
		ev.event = ev.typ
	}
	s.events = append(s.events, ev)
	return true
}

// key reads an object key without escapes, which every key we know is.
func (s *eventScanner) key() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.pos + 1
	for i := start; i < len(s.in); i++ {
		switch c := s.in[i]; {
		case c == '"':
			s.pos = i + 1
			return s.in[start:i], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// topicList reads a non-empty array of strings into topics.
func (s *eventScanner) topicList() bool {
	if s.peek() != '[' {
		return false
	}
	s.pos++
	for {
		s.skipSpace()
		sp, ok := s.str()
		if !ok {
			return false
		}
		s.topics = append(s.topics, sp)
		s.skipSpace()
		c := s.peek()
		s.pos++
		if c == ']' {
			return true
		}
		if c != ',' {
			return false
		}
	}
}

// str reads a JSON string and appends its value to text, decoding
// escapes as encoding/json does: a \u escape of a lone surrogate becomes
// U+FFFD.
func (s *eventScanner) str() (textSpan, bool) {
	if s.peek() != '"' {
		return textSpan{}, false
	}
	start := len(s.text)
	from := s.pos + 1 // the run of plain bytes not yet copied
	for i := from; i < len(s.in); {
		c := s.in[i]
		switch {
		case c == '"':
			s.text = append(s.text, s.in[from:i]...)
			s.pos = i + 1
			return textSpan{start, len(s.text)}, true
		case c < 0x20:
			return textSpan{}, false
		case c != '\\':
			i++
			continue
		}
		s.text = append(s.text, s.in[from:i]...)
		if i+1 >= len(s.in) {
			return textSpan{}, false
		}
		switch e := s.in[i+1]; e {
		case '"', '\\', '/':
			s.text = append(s.text, e)
		case 'b':
			s.text = append(s.text, '\b')
		case 'f':
			s.text = append(s.text, '\f')
		case 'n':
			s.text = append(s.text, '\n')
		case 'r':
			s.text = append(s.text, '\r')
		case 't':
			s.text = append(s.text, '\t')
		case 'u':
			r := hex4(s.in[i+2:])
			if r < 0 {
				return textSpan{}, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+3 < len(s.in) && s.in[i+2] == '\\' && s.in[i+3] == 'u' {
					r2 = hex4(s.in[i+4:])
				}
				if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
					r = pair
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			s.text = utf8.AppendRune(s.text, r)
		default:
			return textSpan{}, false
		}
		i += 2
		from = i
	}
	return textSpan{}, false
}

// hex4 reads the four hex digits of a \u escape, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// value reads data given as a JSON value other than a string and appends
// it, compacted, to text. It only finds where the value ends: json.Compact
// checks that it is valid.
func (s *eventScanner) value() (textSpan, bool) {
	start, depth := s.pos, 0
	for s.pos < len(s.in) {
		switch c := s.in[s.pos]; {
		case c == '"':
			if !s.skipString() {
				return textSpan{}, false
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 { // a number or literal ended by the event's '}'
				return s.appendCompact(s.in[start:s.pos])
			}
			if depth--; depth == 0 {
				s.pos++
				return s.appendCompact(s.in[start:s.pos])
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			return s.appendCompact(s.in[start:s.pos])
		}
		s.pos++
	}
	return textSpan{}, false
}

// skipString moves past the JSON string at pos.
func (s *eventScanner) skipString() bool {
	for i := s.pos + 1; i < len(s.in); i++ {
		switch s.in[i] {
		case '\\':
			i++
		case '"':
			s.pos = i + 1
			return true
		}
	}
	return false
}

func (s *eventScanner) appendCompact(raw []byte) (textSpan, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return textSpan{}, false
	}
	s.compact.Reset()
	if json.Compact(&s.compact, raw) != nil {
		return textSpan{}, false
	}
	start := len(s.text)
	s.text = append(s.text, s.compact.Bytes()...)
	return textSpan{start, len(s.text)}, true
}

// retry reads retry as jsonEvent.event accepts it: a JSON integer of
// milliseconds, from 0 to maxRetryMillis.
func (s *eventScanner) retry() (int64, bool) {
	start := s.pos
	for s.pos < len(s.in) && '0' <= s.in[s.pos] && s.in[s.pos] <= '9' {
		s.pos++
	}
	digits := s.in[start:s.pos]
	if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	switch s.peek() {
	case ',', '}', ' ', '\t', '\r', '\n':
	default:
		return 0, false // a fraction, an exponent, or not a number
	}
	ms, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil || ms > maxRetryMillis {
		return 0, false
	}
	return ms, true
}

// build makes the events of what was read, and checks that they agree
// on the hub.
func (s *eventScanner) build() ([]*hub.Event, string, bool) {
	text := string(s.text)
	topics := make([]string, len(s.topics))
	for i, sp := range s.topics {
		topics[i] = text[sp.start:sp.end]
	}
	hubName := text[s.events[0].hub.start:s.events[0].hub.end]
	structs := make([]hub.Event, len(s.events))
	events := make([]*hub.Event, len(s.events))
	for i, se := range s.events {
		if text[se.hub.start:se.hub.end] != hubName {
			return nil, "", false
		}
		e := &structs[i]
		e.Topics = topics[se.firstTopic:se.endTopic:se.endTopic]
		e.Type = text[se.event.start:se.event.end]
		e.Data = text[se.data.start:se.data.end]
		e.Retry = time.Duration(se.retry) * time.Millisecond
		events[i] = e
	}
	return events, hubName, true
}
