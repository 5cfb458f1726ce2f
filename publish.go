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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const (
	contentTypeForm = "application/x-www-form-urlencoded"
	contentTypeJSON = "application/json"
	maxIdemKeyLen   = 256
)

// statusError is a client's mistake: a status and a message it can act on.
type statusError struct {
	status int
	err    error
}

func (e statusError) Error() string { return e.err.Error() }

func badRequest(err error) error { return statusError{http.StatusBadRequest, err} }

// servePublish handles a POST: it reads and validates every event of the
// body, checks the publish grants, and stores the events in the hub.
func (h *Handler) servePublish(w http.ResponseWriter, r *http.Request) error {
	mediaType, err := publishMediaType(r)
	if err != nil {
		return writeError(w, r, statusOf(err), err)
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	_, grants, err := h.authorize(r, repl, true)
	if err != nil {
		return writeAuthError(w, r, err)
	}
	pub, err := readPublish(w, r, mediaType, h.MaxBodySize, false)
	if err == nil {
		err = checkEvents(pub.events, grants)
	}
	if err != nil {
		return writeError(w, r, statusOf(err), err)
	}
	ids, err := publishEvents(r.Context(), h.hub, pub, h.MaxEventSize)
	if err != nil {
		return writeStoreError(w, r, err)
	}
	return writePublished(w, pub, ids)
}

// writeStoreError answers a publish the hub did not store. It is apart
// from servePublish so that the statusError errors.As fills is allocated
// only on failure.
func writeStoreError(w http.ResponseWriter, r *http.Request, err error) error {
	var se statusError
	if errors.As(err, &se) {
		if se.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		return writeError(w, r, se.status, err)
	}
	return caddyhttp.Error(http.StatusServiceUnavailable, err)
}

// publishRequest is a publish request read and parsed, the same for a
// route and for the admin API.
type publishRequest struct {
	mediaType string
	key       string // Idempotency-Key
	events    []*hub.Event
	batch     bool   // a JSON array: answer with "ids"
	hub       string // the "hub" field, admin API only
}

// publishMediaType returns the media type of a publish, or a 415.
func publishMediaType(r *http.Request) (string, error) {
	mediaType := r.Header.Get("Content-Type")
	// The exact values publishers send need no parsing, which allocates.
	switch mediaType {
	case contentTypeForm, contentTypeJSON:
		return mediaType, nil
	case contentTypeJSON + "; charset=utf-8":
		return contentTypeJSON, nil
	}
	mediaType, _, _ = mime.ParseMediaType(mediaType)
	if mediaType != contentTypeForm && mediaType != contentTypeJSON {
		return "", statusError{http.StatusUnsupportedMediaType,
			errors.New("content type must be " + contentTypeForm + " or " + contentTypeJSON)}
	}
	return mediaType, nil
}

// readPublish checks the Idempotency-Key, reads the body within limit and
// parses its events; withHub accepts a "hub" field (the admin API). The
// events are not validated yet: checkEvents does that with the grants.
func readPublish(w http.ResponseWriter, r *http.Request, mediaType string, limit int64, withHub bool) (publishRequest, error) {
	pub := publishRequest{mediaType: mediaType, key: r.Header.Get("Idempotency-Key")}
	if len(pub.key) > maxIdemKeyLen || strings.ContainsFunc(pub.key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return pub, badRequest(errors.New("Idempotency-Key must be at most 256 printable ASCII characters"))
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return pub, err
	}
	if mediaType == contentTypeForm {
		pub.events, pub.hub, err = parseFormEvent(body, withHub)
	} else {
		pub.events, pub.batch, pub.hub, err = parseJSONEvents(body, withHub)
	}
	return pub, err
}

// publishEvents stores the events of a checked request in hub. A
// client's mistake comes back as a statusError.
func publishEvents(ctx context.Context, hb *hub.Hub, pub publishRequest, maxEventSize int64) ([]string, error) {
	ids, err := hb.Publish(ctx, pub.events, pub.key, int(maxEventSize))
	if errors.Is(err, hub.ErrUnavailable) {
		return nil, statusError{http.StatusServiceUnavailable, hub.ErrUnavailable}
	}
	if errors.Is(err, hub.ErrEventTooLarge) {
		return nil, statusError{http.StatusRequestEntityTooLarge,
			fmt.Errorf("an event is larger than max_event_size (%d bytes) once encoded", maxEventSize)}
	}
	return ids, err
}

// writePublished answers a publish with the ids: text/plain for a form,
// JSON for JSON.
func writePublished(w http.ResponseWriter, pub publishRequest, ids []string) error {
	hdr := w.Header()
	if pub.mediaType == contentTypeForm {
		// Set would canonicalize the keys, already canonical, and allocate
		// a slice per value; the two values share one here, each capped so
		// that an append elsewhere cannot reach the other.
		vals := &[2]string{"no-store", "text/plain; charset=utf-8"}
		hdr["Cache-Control"] = vals[0:1:1]
		hdr["Content-Type"] = vals[1:2:2]
		b := make([]byte, 0, len(ids[0])+1)
		_, err := w.Write(append(append(b, ids[0]...), '\n'))
		return err
	}
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Type", "application/json")
	if pub.batch {
		if b, ok := appendIDsJSON(make([]byte, 0, 10+len(ids)*(3+len(ids[0]))), ids); ok {
			_, err := w.Write(b)
			return err
		}
		return json.NewEncoder(w).Encode(struct {
			IDs []string `json:"ids"`
		}{ids})
	}
	return json.NewEncoder(w).Encode(struct {
		ID string `json:"id"`
	}{ids[0]})
}

// appendIDsJSON appends {"ids":[…]} and a newline, as json.Encoder
// writes it, without reflection: ids are base64url (letters, digits, '-'
// and '_'), which JSON needs no escape for. It gives up on any other byte.
func appendIDsJSON(b []byte, ids []string) ([]byte, bool) {
	b = append(b, `{"ids":[`...)
	for i, id := range ids {
		for j := 0; j < len(id); j++ {
			if c := id[j]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
				return b, false
			}
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, id...)
		b = append(b, '"')
	}
	return append(b, "]}\n"...), true
}

// trustedGrants let a trusted publisher, the admin API, publish to any topic.
var trustedGrants = []string{"**"}

// readBody reads at most limit bytes of the request body. A declared length
// over the limit is refused before anything is read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		closeAfterReply(w, r)
		return nil, bodyTooLarge(limit)
	}
	// Sized from Content-Length, checked above, the body is read without
	// the copies of a growing buffer; the room left over sees the end.
	size := bytes.MinRead
	if r.ContentLength > 0 {
		size += int(r.ContentLength)
	}
	body := make([]byte, 0, size)
	for {
		if len(body) == cap(body) {
			body = slices.Grow(body, bytes.MinRead)
		}
		room := body[len(body):cap(body)]
		// One byte past the limit is enough to know the body is over it.
		if left := max(limit, 0) - int64(len(body)); int64(len(room)) > left {
			room = room[:left+1]
		}
		n, err := r.Body.Read(room)
		body = body[:len(body)+n]
		if int64(len(body)) > limit {
			closeAfterReply(w, r)
			return nil, bodyTooLarge(limit)
		}
		switch {
		case err == io.EOF:
			return body, nil
		case err != nil:
			return nil, badRequest(errors.New("reading request body failed"))
		}
	}
}

func bodyTooLarge(limit int64) error {
	return statusError{http.StatusRequestEntityTooLarge,
		fmt.Errorf("request body is larger than max_body_size (%d bytes)", limit)}
}

// closeAfterReply keeps net/http from reading the rest of a refused body
// before it answers. Caddy wraps the request body, so net/http cannot tell
// that what is left is large and drains up to 256 KiB first, waiting for a
// client that declared a large body but sends it only once it has an
// answer. Closing the HTTP/1 connection after the answer skips the drain;
// HTTP/2 and HTTP/3 do not drain, and there "Connection: close" would end
// every stream of the connection.
func closeAfterReply(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
}

// checkEvents validates each event and its topics against the grants.
// The topic of the previous event, often the same in a batch, is known to
// be allowed.
func checkEvents(events []*hub.Event, grants []string) error {
	var allowedTopic string
	for i, e := range events {
		if err := e.Validate(); err != nil {
			if len(events) > 1 {
				err = fmt.Errorf("event %d: %v", i, err)
			}
			return badRequest(err)
		}
		for _, t := range e.Topics {
			if t == allowedTopic {
				continue
			}
			if !allowed(grants, t) {
				return statusError{http.StatusForbidden, fmt.Errorf("not allowed to publish to topic %q", t)}
			}
			allowedTopic = t
		}
	}
	return nil
}

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
