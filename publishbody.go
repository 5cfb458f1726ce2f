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

// This file reads the events of a publish body: a form (with a fast
// scanner and url.ParseQuery as its fallback and reference) or JSON (see
// also jsonscan.go, and encoding/json as the reference).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddy-sse/caddy-sse/hub"
)

// parseFormEvent reads one event from a URL-encoded form body. A topic may
// be repeated to publish one event to several topics. withHub accepts a
// "hub" field, returned.
func parseFormEvent(body []byte, withHub bool) ([]*hub.Event, string, error) {
	text := string(body)
	if events, hubName, ok := scanFormEvent(text, withHub); ok {
		return events, hubName, nil
	}
	return parseFormValues(text, withHub)
}

// parseFormValues is parseFormEvent through url.ParseQuery, for the bodies
// scanFormEvent gives up on; its results and messages are the reference.
func parseFormValues(body string, withHub bool) ([]*hub.Event, string, error) {
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, "", badRequest(errors.New("malformed form body"))
	}
	for name, vals := range form {
		switch {
		case name == "topic":
		case name == "data" || name == "event" || name == "type" || name == "retry" || (name == "hub" && withHub):
			if len(vals) > 1 {
				return nil, "", badRequest(fmt.Errorf("field %q given more than once", name))
			}
		default:
			return nil, "", badRequest(fmt.Errorf("unknown field %q", name))
		}
	}
	if form.Has("event") && form.Has("type") {
		return nil, "", badRequest(errors.New("give either event or type, not both"))
	}
	e := &hub.Event{Topics: form["topic"], Data: form.Get("data"), Type: form.Get("event") + form.Get("type")}
	if form.Has("retry") {
		ms, err := strconv.ParseInt(form.Get("retry"), 10, 64)
		if err != nil || ms < 0 || ms > maxRetryMillis {
			return nil, "", badRequest(hub.ErrRetry)
		}
		e.Retry = time.Duration(ms) * time.Millisecond
	}
	return []*hub.Event{e}, form.Get("hub"), nil
}

// formEvent is the event of a form publish with, in the same allocation,
// its first topic and the list of one event that carries it.
type formEvent struct {
	event  hub.Event
	topic  [1]string
	events [1]*hub.Event
}

// maxScannedFormFields bounds the fields scanFormEvent takes on, well
// within the parameter limit url.ParseQuery applies.
const maxScannedFormFields = 8

// scanFormEvent is parseFormEvent for a well-formed body of a few fields,
// without url.ParseQuery's map and slices: it splits and unescapes the
// fields as ParseQuery does, and gives up, for parseFormEvent to say what
// is wrong, on anything ParseQuery or the field checks would refuse.
func scanFormEvent(body string, withHub bool) ([]*hub.Event, string, bool) {
	if strings.Count(body, "&") >= maxScannedFormFields {
		return nil, "", false
	}
	fe := &formEvent{}
	topics := fe.topic[:0:1]
	var data, typ, retry, hubName string
	var seen uint8 // bit per single-valued field
	for rest := body; rest != ""; {
		var field string
		field, rest, _ = strings.Cut(rest, "&")
		if strings.Contains(field, ";") {
			return nil, "", false
		}
		if field == "" {
			continue
		}
		rawName, rawVal, _ := strings.Cut(field, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, "", false
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, "", false
		}
		var bit uint8
		switch {
		case name == "topic":
			topics = append(topics, val)
			continue
		case name == "data":
			bit, data = 1, val
		case name == "event" || name == "type":
			bit, typ = 2, val
		case name == "retry":
			bit, retry = 4, val
		case name == "hub" && withHub:
			bit, hubName = 8, val
		default:
			return nil, "", false
		}
		if seen&bit != 0 {
			return nil, "", false // repeated, or both event and type
		}
		seen |= bit
	}
	e := &fe.event
	if len(topics) > 0 {
		e.Topics = topics
	}
	e.Data, e.Type = data, typ
	if seen&4 != 0 {
		ms, err := strconv.ParseInt(retry, 10, 64)
		if err != nil || ms < 0 || ms > maxRetryMillis {
			return nil, "", false
		}
		e.Retry = time.Duration(ms) * time.Millisecond
	}
	fe.events[0] = e
	return fe.events[:], hubName, true
}

// maxRetryMillis keeps retry within what a time.Duration holds (about 106 days).
const maxRetryMillis = 1 << 43

// jsonEvent is one event of a JSON publish body.
type jsonEvent struct {
	Topic  *string         `json:"topic"`
	Topics []string        `json:"topics"`
	Event  string          `json:"event"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	Retry  json.RawMessage `json:"retry"`
}

// hubJSONEvent is an event of an admin API publish, which names its hub.
type hubJSONEvent struct {
	jsonEvent
	Hub string `json:"hub"`
}

// parseJSONEvents reads an event object or an array of them (a batch).
// withHub accepts a "hub" field, which the events of a batch must agree
// on, and returns it.
func parseJSONEvents(body []byte, withHub bool) ([]*hub.Event, bool, string, error) {
	if !utf8.Valid(body) {
		return nil, false, "", badRequest(errors.New("body is not valid UTF-8"))
	}
	if events, batch, hubName, ok := scanJSONEvents(body, withHub); ok {
		return events, batch, hubName, nil
	}
	return decodeJSONBody(body, withHub)
}

// decodeJSONBody is parseJSONEvents through encoding/json, for the bodies
// scanJSONEvents gives up on; its results and messages are the reference.
func decodeJSONBody(body []byte, withHub bool) ([]*hub.Event, bool, string, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	batch := len(trimmed) > 0 && trimmed[0] == '['
	var raw []hubJSONEvent
	var err error
	if withHub {
		raw, err = decodeJSONEvents[hubJSONEvent](body, batch)
	} else {
		var plain []jsonEvent
		plain, err = decodeJSONEvents[jsonEvent](body, batch)
		for _, je := range plain {
			raw = append(raw, hubJSONEvent{jsonEvent: je})
		}
	}
	if err != nil {
		return nil, batch, "", badRequest(fmt.Errorf("malformed JSON body: %v", err))
	}
	if len(raw) == 0 {
		return nil, batch, "", badRequest(errors.New("batch is empty"))
	}
	events := make([]*hub.Event, len(raw))
	hubName := raw[0].Hub
	for i, je := range raw {
		e, err := je.event()
		if err == nil && je.Hub != hubName {
			err = errors.New("the events of a batch must name the same hub")
		}
		if err != nil {
			if batch {
				err = fmt.Errorf("event %d: %v", i, err)
			}
			return nil, batch, "", badRequest(err)
		}
		events[i] = e
	}
	return events, batch, hubName, nil
}

// decodeJSONEvents decodes one JSON object, or an array of them, and
// nothing more, rejecting unknown fields.
func decodeJSONEvents[T any](body []byte, batch bool) ([]T, error) {
	var raw []T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var err error
	if batch {
		err = dec.Decode(&raw)
	} else {
		raw = make([]T, 1)
		err = dec.Decode(&raw[0])
	}
	if err == nil {
		// dec.More would let a stray ']' or '}' through.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	return raw, err
}

func (je jsonEvent) event() (*hub.Event, error) {
	e := &hub.Event{Topics: je.Topics, Type: je.Event}
	if je.Topic != nil {
		if je.Topics != nil {
			return nil, errors.New("give either topic or topics, not both")
		}
		e.Topics = []string{*je.Topic}
	}
	if je.Type != "" {
		if je.Event != "" {
			return nil, errors.New("give either event or type, not both")
		}
		e.Type = je.Type
	}
	switch {
	case len(je.Data) == 0 || string(je.Data) == "null":
		return nil, hub.ErrDataMissing
	case je.Data[0] == '"':
		if err := json.Unmarshal(je.Data, &e.Data); err != nil {
			return nil, err
		}
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, je.Data); err != nil {
			return nil, err
		}
		e.Data = buf.String()
	}
	if len(je.Retry) > 0 && string(je.Retry) != "null" {
		// Parsed here rather than by the decoder, whose error for a
		// string or a fraction would not name the field.
		ms, err := strconv.ParseInt(string(je.Retry), 10, 64)
		if err != nil || ms < 0 || ms > maxRetryMillis {
			return nil, hub.ErrRetry
		}
		e.Retry = time.Duration(ms) * time.Millisecond
	}
	return e, nil
}

// statusOf maps an error from request parsing to its HTTP status.
func statusOf(err error) int {
	var se statusError
	if errors.As(err, &se) {
		return se.status
	}
	return http.StatusBadRequest
}

// writeError answers a client's mistake with its status and a short
// message: JSON for JSON requests, plain text otherwise. It returns nil so
// that Caddy does not treat the mistake as a server error.
func writeError(w http.ResponseWriter, r *http.Request, status int, err error) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == contentTypeJSON || strings.Contains(r.Header.Get("Accept"), contentTypeJSON) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(struct {
			Error string `json:"error"`
		}{err.Error()})
		return nil
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, err.Error()+"\n")
	return nil
}
