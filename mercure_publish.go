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
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/mercure"
)

// maxPublisherIDLen bounds a publisher-supplied id (SPEC §14).
const maxPublisherIDLen = 256

// serveMercurePublish reads Mercure's publish form and answers with the
// update's id as text/plain. Authentication comes first: a request that
// may not publish learns nothing about its body.
func (h *Handler) serveMercurePublish(w http.ResponseWriter, r *http.Request) error {
	claims, cookie, err := mercureToken(r, h.mercure.publisher)
	switch {
	case err != nil:
		return writeMercureError(w, r, err)
	case claims == nil:
		return writeMercureError(w, r, unauthorized("a publisher token is required"))
	case claims.Mercure.Publish == nil:
		return writeMercureError(w, r, unauthorized("the token has no mercure.publish claim"))
	case cookie && !h.originAllowed(r):
		return writeMercureError(w, r, unauthorized("a publish authorized by cookie must come from this site or a cors_origins origin"))
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return writeError(w, r, http.StatusBadRequest, errors.New("publish with an application/x-www-form-urlencoded form"))
	}
	body, err := readBody(w, r, h.MaxBodySize)
	if err != nil {
		return writeMercureError(w, r, err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return writeError(w, r, http.StatusBadRequest, errors.New("the form is not valid URL encoding"))
	}
	ev, err := mercureEvent(form)
	if err != nil {
		return writeError(w, r, http.StatusBadRequest, err)
	}
	if !mercure.CompileAll(claims.Mercure.Publish).MatchAll(ev.Topics) {
		return writeMercureError(w, r, unauthorized("the token's mercure.publish claim does not cover every topic"))
	}
	ids, err := publishEvents(r.Context(), h.hub, publishRequest{events: []*hub.Event{ev}}, h.MaxEventSize)
	if err != nil {
		return writeStoreError(w, r, err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = io.WriteString(w, ids[0])
	return err
}

// mercureEvent reads an update from the publish form; its errors are
// meant for the publisher.
func mercureEvent(form url.Values) (*hub.Event, error) {
	ev := &hub.Event{
		Topics:  form["topic"],
		Data:    form.Get("data"),
		Type:    form.Get("type"),
		Opaque:  true,
		Private: form.Has("private"),
	}
	if len(ev.Topics) == 0 {
		return nil, errors.New(`missing "topic" parameter`)
	}
	if id := form.Get("id"); id != "" {
		if err := validPublisherID(id); err != nil {
			return nil, err
		}
		// Kept as the wire id by hubs that honour publisher ids.
		ev.ID = id
	}
	if s := form.Get("retry"); s != "" {
		ms, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, hub.ErrRetry
		}
		ev.Retry = time.Duration(ms) * time.Millisecond
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return ev, nil
}

// validPublisherID checks an id a publisher supplies: printable UTF-8
// without CR, LF or NUL, at most maxPublisherIDLen bytes.
func validPublisherID(id string) error {
	switch {
	case len(id) > maxPublisherIDLen:
		return fmt.Errorf("id is longer than %d bytes", maxPublisherIDLen)
	case !utf8.ValidString(id):
		return errors.New("id is not valid UTF-8")
	case strings.IndexFunc(id, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0:
		return errors.New("id contains CR, LF, NUL or another non-printable character")
	}
	return nil
}
