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
	"slices"
	"strings"

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
	auth, grants, err := h.authorize(r, repl, true)
	if err != nil {
		return writeAuthError(w, r, err)
	}
	pub, err := readPublish(w, r, mediaType, h.MaxBodySize, false)
	if err == nil {
		err = checkEvents(pub.events, grants)
	}
	if err != nil {
		if statusOf(err) == http.StatusForbidden {
			return writeAuthError(w, r, h.notGranted(auth, err.Error()))
		}
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
		if looksLikeJSON(body) {
			return pub, statusError{http.StatusUnsupportedMediaType,
				errors.New("the body is JSON but was sent as a form: send it with Content-Type: application/json")}
		}
		pub.events, pub.hub, err = parseFormEvent(body, withHub)
	} else {
		pub.events, pub.batch, pub.hub, err = parseJSONEvents(body, withHub)
	}
	return pub, err
}

// looksLikeJSON reports whether a form body is a JSON object or array,
// as `curl -d '{…}'` sends without a Content-Type: no form starts so.
func looksLikeJSON(body []byte) bool {
	body = bytes.TrimLeft(body, " \t\r\n")
	return len(body) > 0 && (body[0] == '{' || body[0] == '[')
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

// plainIDByte tells the bytes of base64url, which a JSON string needs no
// escape for. A table, not comparisons: the bytes of ids are random, and
// a branch per byte mispredicts half the time.
var plainIDByte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// appendIDsJSON appends {"ids":[…]} and a newline, as json.Encoder
// writes it, without reflection: ids are base64url (letters, digits, '-'
// and '_'), which JSON needs no escape for. It gives up on any other byte.
func appendIDsJSON(b []byte, ids []string) ([]byte, bool) {
	b = append(b, `{"ids":[`...)
	for i, id := range ids {
		for j := 0; j < len(id); j++ {
			if !plainIDByte[id[j]] {
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
