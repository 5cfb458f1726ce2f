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

package webhook

import (
	"encoding/json"
	"strconv"
	"time"
)

// Type is the type of a webhook event.
type Type string

// The event types.
const (
	// Occupied: an exact topic got its first stream.
	Occupied Type = "occupied"
	// Vacated: a topic's last stream closed and the presence grace passed.
	Vacated Type = "vacated"
	// Join: an identity's first stream on a topic opened (needs presence).
	Join Type = "join"
	// Leave: an identity's last stream on a topic closed and the grace
	// passed (needs presence).
	Leave Type = "leave"
	// Connect: a stream opened.
	Connect Type = "connect"
	// Disconnect: a stream ended.
	Disconnect Type = "disconnect"
)

// Types are the event types, in the order the README lists them.
var Types = []Type{Occupied, Vacated, Join, Leave, Connect, Disconnect}

// DefaultTypes are the types a webhook sends when its events are not set.
var DefaultTypes = []Type{Occupied, Vacated}

// NeedsPresence reports whether events of type t only exist when the hub
// tracks presence.
func (t Type) NeedsPresence() bool { return t == Join || t == Leave }

func (t Type) valid() bool {
	for _, known := range Types {
		if t == known {
			return true
		}
	}
	return false
}

// bit is t's bit in a set of types.
func (t Type) bit() uint8 {
	for i, known := range Types {
		if t == known {
			return 1 << i
		}
	}
	return 0
}

// Event is one thing that happened in a hub. Which fields it carries
// depends on its type (the JSON leaves out the others):
//
//	occupied, vacated:  topic
//	join, leave:        topic, identity, count (members after the change)
//	connect:            identity, remote, selectors
//	disconnect:         identity, remote, selectors, reason
type Event struct {
	Type      Type
	Time      time.Time
	Topic     string
	Identity  string
	Count     int
	Remote    string
	Selectors []string
	Reason    string
}

// TopicEvent returns an occupied or vacated event of topic.
func TopicEvent(typ Type, topic string, at time.Time) Event {
	return Event{Type: typ, Topic: topic, Time: at}
}

// MemberEvent returns a join or leave event: identity joined or left
// topic, which has count members (identities) after the change.
func MemberEvent(typ Type, topic, identity string, count int, at time.Time) Event {
	return Event{Type: typ, Topic: topic, Identity: identity, Count: count, Time: at}
}

// StreamEvent returns a connect event, or a disconnect event when reason
// is not empty, of a stream of identity ("" when anonymous) from remote
// on selectors, which it must not change afterwards.
func StreamEvent(identity, remote string, selectors []string, reason string, at time.Time) Event {
	typ := Connect
	if reason != "" {
		typ = Disconnect
	}
	return Event{Type: typ, Identity: identity, Remote: remote, Selectors: selectors, Reason: reason, Time: at}
}

// appendJSON appends e as a JSON object with the fields of its type.
func (e *Event) appendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, string(e.Type))
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	str := func(name, val string) {
		b = append(b, `,"`+name+`":`...)
		b = appendString(b, val)
	}
	switch e.Type {
	case Occupied, Vacated:
		str("topic", e.Topic)
	case Join, Leave:
		str("topic", e.Topic)
		str("identity", e.Identity)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(e.Count), 10)
	case Connect, Disconnect:
		str("identity", e.Identity)
		str("remote", e.Remote)
		b = append(b, `,"selectors":[`...)
		for i, sel := range e.Selectors {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, sel)
		}
		b = append(b, ']')
		if e.Type == Disconnect {
			str("reason", e.Reason)
		}
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, as encoding/json writes it
// (topics and identities may hold any printable UTF-8).
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// batchBody is the JSON body of a batch of hubName's events.
func batchBody(hubName string, events []Event) []byte {
	b := append(make([]byte, 0, 64+len(events)*160), `{"hub":`...)
	b = appendString(b, hubName)
	b = append(b, `,"events":[`...)
	for i := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = events[i].appendJSON(b)
	}
	return append(b, "]}"...)
}
