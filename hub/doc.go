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

// Package hub is the heart of caddy-sse, in plain Go: topics and
// selectors (topic.go), the index that finds a topic's subscribers
// (index.go), events and their encoding in the text/event-stream format
// (event.go), and the Hub, which fans events out to subscribers (deliver.go),
// keeps a bounded history (history.go) and resumes a subscriber from it
// (subscribe.go, subscriber.go).
//
// Where events are stored and ordered is a Log (log.go): the memory log of
// this process (memlog.go), or a log shared by several processes, such as
// the Redis transport of the plugin. A publish goes into the log; the log
// hands every event back to the hub through one callback, Sink.Deliver,
// the only way into fan-out.
//
// An event's id is the log's own unless its publisher gave it one
// (Event.ID set before Hub.Publish, checked by ValidatePublisherID): that
// id is kept on the wire for every subscriber and resumes while the event
// is in history (pubid.go); it names the event, the log still orders it.
//
// Presence (presence.go, presence_events.go) tracks who is on each exact
// topic, with a grace before a leave or a vacate, while Settings.Presence
// is on or an Observer is set; it sees every stream at Subscribe and at
// removal, and tells an Observer, outside the hub's lock, of occupied,
// vacated, join, leave, connect and disconnect.
//
// The package imports nothing but the standard library: no Caddy, no
// network client. Other Go code can run a hub of its own with New, or
// publish into the plugin's hubs in-process (see the plugin's LookupHub).
package hub
