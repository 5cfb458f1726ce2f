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
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// reservedTypePrefix marks event types only the server may send.
const reservedTypePrefix = "sse."

// Event is one published event. Its log assigns ID and Pos, and the
// event is encoded once; every subscriber writes the same bytes.
type Event struct {
	// ID is the opaque id sent to clients in the id: field. Set before
	// Publish, it is the publisher's id for the event (see
	// ValidatePublisherID), kept on the wire for every subscriber and
	// resumable while the event is in history; left empty, the log
	// assigns its own.
	ID string
	// Pos is the event's place in its log.
	Pos Position
	// Type is the event: field; empty means "message".
	Type string
	// Topics the event was published to, each valid per validateTopic.
	Topics []string
	// Data is the payload; line breaks become several data: lines.
	Data string
	// Retry, when positive, is sent as the retry: field.
	Retry time.Duration
	// Time is when the log stored the event.
	Time time.Time
	// Opaque topics are Mercure's: any string of up to MaxTopicLen bytes
	// without CR, LF or NUL (ValidateOpaqueTopic). Native subscribers see
	// only those of its topics that are also valid native topics.
	Opaque bool
	// Private events reach only subscribers with a Match that accepts
	// them (Mercure subscribers whose claims cover a topic), never a
	// native subscriber.
	Private bool

	wire []byte // encoded once, shared by all writers
	seq  uint64 // the hub's count of deliveries; see Hub.deliver
	pub  bool   // ID is the publisher's, not the log's
}

// Size is the encoded size of the event in bytes, the figure that
// max_event_size and history_size limit.
func (e *Event) Size() int { return len(e.wire) }

// PublisherID reports whether the event's ID is the one its publisher
// gave it rather than the log's.
func (e *Event) PublisherID() bool { return e.pub }

// Wire is the event encoded, id included, as every subscriber writes it.
// It is shared: callers must not modify it.
func (e *Event) Wire() []byte { return e.wire }

// Errors of event validation; each text reaches the publisher in a 400.
var (
	errTypeChars    = errors.New("event type contains CR, LF or NUL")
	errTypeReserved = errors.New("event types starting with \"sse.\" are reserved")
	errTypeUTF8     = errors.New("event type is not valid UTF-8")
	ErrDataMissing  = errors.New("data is missing or empty")
	errDataUTF8     = errors.New("data is not valid UTF-8")
	ErrNoTopic      = errors.New("topic is missing")
	ErrRetry        = errors.New("retry must be a non-negative integer of milliseconds")
)

// Validate checks the publisher-supplied fields of e, except size; the
// error's text is meant for the publisher.
func (e *Event) Validate() error {
	if len(e.Topics) == 0 {
		return ErrNoTopic
	}
	for _, t := range e.Topics {
		validate := ValidateTopic
		if e.Opaque {
			validate = ValidateOpaqueTopic
		}
		if err := validate(t); err != nil {
			return err
		}
	}
	if strings.ContainsAny(e.Type, "\r\n\x00") {
		return errTypeChars
	}
	if !utf8.ValidString(e.Type) {
		return errTypeUTF8
	}
	if strings.HasPrefix(e.Type, reservedTypePrefix) {
		return errTypeReserved
	}
	if e.Data == "" && !e.Opaque { // Mercure updates may have no data
		return ErrDataMissing
	}
	if !utf8.ValidString(e.Data) {
		return errDataUTF8
	}
	if e.Retry < 0 {
		return ErrRetry
	}
	return ValidatePublisherID(e.ID)
}

// Encode renders e, id included, in the text/event-stream format.
func (e *Event) Encode() []byte {
	body := e.Body()
	if e.ID == "" {
		return body
	}
	return appendIDLine(make([]byte, 0, len(e.ID)+5+len(body)), e.ID, body)
}

// appendIDLine appends the id: field and then the rest of an encoded event.
func appendIDLine(b []byte, id string, body []byte) []byte {
	b = append(b, "id: "...)
	b = append(b, id...)
	b = append(b, '\n')
	return append(b, body...)
}

// IDLineLen is the size of the id: field of an event with this id.
func IDLineLen(id string) int { return len(id) + 5 }

// Body renders every field of e but id: in the text/event-stream format. Data is split on every
// line ending the WHATWG parser recognises (CRLF, LF, lone CR), so what a
// client reassembles equals the data with line endings normalised to LF.
// The topic: field is ignored by EventSource and read by our own client.
func (e *Event) Body() []byte {
	// Each line break in data costs a "data: " prefix and a newline.
	n := len(e.Type) + len(e.Data) + 32 + 7*strings.Count(e.Data, "\n") + 7*strings.Count(e.Data, "\r")
	for _, t := range e.Topics {
		n += len(t) + 8
	}
	b := make([]byte, 0, n)
	if e.Type != "" && e.Type != "message" {
		b = append(b, "event: "...)
		b = append(b, e.Type...)
		b = append(b, '\n')
	}
	if e.Retry > 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, e.Retry.Milliseconds(), 10)
		b = append(b, '\n')
	}
	for _, t := range e.Topics {
		b = append(b, "topic: "...)
		b = append(b, t...)
		b = append(b, '\n')
	}
	b = appendData(b, e.Data)
	return append(b, '\n')
}

// appendData appends data as data: lines. The space after the colon is
// always written so that data starting with a space survives parsing.
func appendData(b []byte, data string) []byte {
	for {
		i := strings.IndexAny(data, "\r\n")
		b = append(b, "data: "...)
		if i < 0 {
			b = append(b, data...)
			return append(b, '\n')
		}
		b = append(b, data[:i]...)
		b = append(b, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}

// ControlEvent encodes a server-generated event (sse.reset, sse.close) with
// JSON data. An empty id omits the id: field so a client keeps its last id.
func ControlEvent(typ, id string, retry time.Duration, jsonData string) []byte {
	e := Event{ID: id, Type: typ, Data: jsonData, Retry: retry}
	return e.Encode()
}
