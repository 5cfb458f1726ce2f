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
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != contentTypeForm && mediaType != contentTypeJSON {
		return writeError(w, r, http.StatusUnsupportedMediaType,
			errors.New("content type must be "+contentTypeForm+" or "+contentTypeJSON))
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	grants := expandGrants(repl, h.PublishAllow)
	if len(grants) == 0 {
		return writeError(w, r, http.StatusUnauthorized, errors.New("no credentials and no publish grant for this route"))
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdemKeyLen || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return writeError(w, r, http.StatusBadRequest, errors.New("Idempotency-Key must be at most 256 printable ASCII characters"))
	}

	body, err := readBody(w, r, h.MaxBodySize)
	if err != nil {
		return writeError(w, r, statusOf(err), err)
	}
	var events []*Event
	batch := false
	if mediaType == contentTypeForm {
		events, err = parseFormEvent(body)
	} else {
		events, batch, err = parseJSONEvents(body)
	}
	if err == nil {
		err = checkEvents(events, grants)
	}
	if err != nil {
		return writeError(w, r, statusOf(err), err)
	}

	ids, err := h.hub.Publish(events, key, int(h.MaxEventSize))
	switch {
	case errors.Is(err, ErrEventTooLarge):
		return writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("an event is larger than max_event_size (%d bytes) once encoded", h.MaxEventSize))
	case err != nil:
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}

	w.Header().Set("Cache-Control", "no-store")
	if mediaType == contentTypeForm {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err = io.WriteString(w, ids[0]+"\n")
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	if batch {
		return json.NewEncoder(w).Encode(struct {
			IDs []string `json:"ids"`
		}{ids})
	}
	return json.NewEncoder(w).Encode(struct {
		ID string `json:"id"`
	}{ids[0]})
}

// readBody reads at most limit bytes of the request body. A declared length
// over the limit is refused before anything is read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := statusError{http.StatusRequestEntityTooLarge,
		fmt.Errorf("request body is larger than max_body_size (%d bytes)", limit)}
	if r.ContentLength > limit {
		closeAfterReply(w, r)
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			closeAfterReply(w, r)
			return nil, tooLarge
		}
		return nil, badRequest(errors.New("reading request body failed"))
	}
	return body, nil
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
func checkEvents(events []*Event, grants []string) error {
	for i, e := range events {
		if err := e.validate(); err != nil {
			if len(events) > 1 {
				err = fmt.Errorf("event %d: %v", i, err)
			}
			return badRequest(err)
		}
		for _, t := range e.Topics {
			if !allowed(grants, t) {
				return statusError{http.StatusForbidden, fmt.Errorf("not allowed to publish to topic %q", t)}
			}
		}
	}
	return nil
}

// parseFormEvent reads one event from a URL-encoded form body. A topic may
// be repeated to publish one event to several topics.
func parseFormEvent(body []byte) ([]*Event, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest(errors.New("malformed form body"))
	}
	for name, vals := range form {
		switch name {
		case "topic":
		case "data", "event", "type", "retry":
			if len(vals) > 1 {
				return nil, badRequest(fmt.Errorf("field %q given more than once", name))
			}
		default:
			return nil, badRequest(fmt.Errorf("unknown field %q", name))
		}
	}
	if form.Has("event") && form.Has("type") {
		return nil, badRequest(errors.New("give either event or type, not both"))
	}
	e := &Event{Topics: form["topic"], Data: form.Get("data"), Type: form.Get("event") + form.Get("type")}
	if form.Has("retry") {
		ms, err := strconv.ParseInt(form.Get("retry"), 10, 64)
		if err != nil || ms < 0 || ms > maxRetryMillis {
			return nil, badRequest(errRetry)
		}
		e.Retry = time.Duration(ms) * time.Millisecond
	}
	return []*Event{e}, nil
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

// parseJSONEvents reads an event object or an array of them (a batch).
func parseJSONEvents(body []byte) ([]*Event, bool, error) {
	if !utf8.Valid(body) {
		return nil, false, badRequest(errors.New("body is not valid UTF-8"))
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	batch := len(trimmed) > 0 && trimmed[0] == '['
	var raw []jsonEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var err error
	if batch {
		err = dec.Decode(&raw)
	} else {
		raw = make([]jsonEvent, 1)
		err = dec.Decode(&raw[0])
	}
	if err == nil {
		// dec.More would let a stray ']' or '}' through.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if err != nil {
		return nil, batch, badRequest(fmt.Errorf("malformed JSON body: %v", err))
	}
	if len(raw) == 0 {
		return nil, batch, badRequest(errors.New("batch is empty"))
	}
	events := make([]*Event, len(raw))
	for i, je := range raw {
		e, err := je.event()
		if err != nil {
			if batch {
				err = fmt.Errorf("event %d: %v", i, err)
			}
			return nil, batch, badRequest(err)
		}
		events[i] = e
	}
	return events, batch, nil
}

func (je jsonEvent) event() (*Event, error) {
	e := &Event{Topics: je.Topics, Type: je.Event}
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
		return nil, errDataMissing
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
			return nil, errRetry
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
