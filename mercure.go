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
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/mercure"
)

// serveMercure answers a request to a Mercure route.
func (h *Handler) serveMercure(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet:
		return h.serveMercureSubscribe(w, r)
	case http.MethodPost:
		return h.serveMercurePublish(w, r)
	}
	w.Header().Set("Allow", "GET, POST")
	return writeError(w, r, http.StatusMethodNotAllowed, errors.New("method not allowed; use GET, POST"))
}

// errUnauthorized is Mercure's answer to every authentication or
// authorization failure: a 401.
func unauthorized(msg string) error {
	return statusError{http.StatusUnauthorized, errors.New(msg)}
}

// mercureToken finds the request's token, from the Authorization header,
// the authorization query parameter or the mercureAuthorization cookie,
// in that order, and verifies it with v. With no token it returns nil
// claims; cookie reports whether the token came from the cookie alone.
func mercureToken(r *http.Request, v *mercure.Verifier) (claims *mercure.Claims, cookie bool, err error) {
	raw := ""
	if scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		raw = strings.TrimSpace(tok)
	}
	if raw == "" {
		raw = r.URL.Query().Get(mercureQuery)
	}
	if raw == "" {
		if c, err := r.Cookie(mercureCookie); err == nil && c.Value != "" {
			raw, cookie = c.Value, true
		}
	}
	if raw == "" {
		return nil, false, nil
	}
	if v == nil {
		return nil, cookie, unauthorized("tokens are not accepted here: the route has no key for them")
	}
	claims, err = v.Verify(raw)
	if err != nil {
		return nil, cookie, unauthorized(err.Error())
	}
	return claims, cookie, nil
}

// writeMercureError writes err with its status, or 500 for an error that
// has none.
func writeMercureError(w http.ResponseWriter, r *http.Request, err error) error {
	var se statusError
	if errors.As(err, &se) {
		return writeError(w, r, se.status, err)
	}
	return caddyhttp.Error(http.StatusInternalServerError, err)
}

// serveMercureSubscribe opens a stream of the updates whose topics match
// one of the request's selectors, private ones only where the token's
// mercure.subscribe claim matches too.
func (h *Handler) serveMercureSubscribe(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	topics := query["topic"]
	if len(topics) == 0 {
		return writeError(w, r, http.StatusBadRequest, errors.New(`missing "topic" parameter`))
	}
	if len(topics) > h.MaxTopics {
		return writeError(w, r, http.StatusBadRequest, fmt.Errorf("too many topics: at most %d per subscription", h.MaxTopics))
	}
	for i, t := range topics {
		if err := hub.ValidateOpaqueTopic(t); err != nil {
			return writeError(w, r, http.StatusBadRequest, fmt.Errorf("topic %d: %v", i+1, err))
		}
	}
	claims, _, err := mercureToken(r, h.mercure.subscriber)
	if err != nil {
		return writeMercureError(w, r, err)
	}
	if claims == nil && !h.mercure.anonymous {
		return writeMercureError(w, r, unauthorized("a subscriber token is required: this route does not take anonymous subscribers"))
	}
	subscribed := mercure.CompileAll(topics)
	var claimed mercure.Selectors
	if claims != nil {
		claimed = mercure.CompileAll(claims.Mercure.Subscribe)
	}
	req := hub.SubscribeRequest{
		Selectors:    topics,
		Buffer:       h.Buffer,
		MaxPerClient: h.MaxPerClient,
		Remote:       r.RemoteAddr,
		WantNewestID: true,
		Match: func(e *hub.Event) bool {
			return mercure.CanReceive(subscribed, claimed, e.Topics, e.Private)
		},
	}
	if claims != nil {
		req.Identity = claims.Subject
	}
	req.Client = req.Identity
	if req.Client == "" {
		req.Client, _ = caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	}
	switch id, ok := resumeID(r, query); {
	case ok && id == "earliest":
		req.Replay = *h.History // Mercure's "everything you still have"
	case ok:
		req.LastEventID, req.HasLastEventID = id, true
	}
	sub, err := h.hub.Subscribe(req)
	if errors.Is(err, hub.ErrCapacity) {
		return h.serveCapacity(w, r)
	}
	if err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	endReason := hub.ReasonClientGone
	defer func() { sub.End(endReason) }()
	// The header names the newest event this subscriber may see (on a
	// resume too), or "earliest" before there is one. The opening block's
	// id is where this stream starts, so that a plain EventSource that got
	// no update resumes without a gap.
	if sub.NewestID != "" {
		w.Header().Set("Last-Event-ID", sub.NewestID)
	} else {
		w.Header().Set("Last-Event-ID", "earliest")
	}
	st := h.openStream(w, r, "")
	defer st.release()
	ending, end := context.WithCancel(h.stopping)
	defer end()
	defer context.AfterFunc(r.Context(), end)()
	st.end = ending.Done()
	// An id the hub cannot resume from gets no sse.reset here: Mercure
	// clients do not know it, and Mercure itself sends the live updates.
	if err := st.send(streamOpening, openingFields(time.Duration(h.Retry), sub.StartID)); err != nil {
		return nil
	}
	if err := h.sendEvents(st, sub, r, sub.Replay); err != nil {
		switch {
		case errors.Is(err, errStopping):
			endReason = stoppingReason()
			_ = st.send(closeEvent(endReason, hub.ShortRetry()))
		case !errors.Is(err, errClientGone):
			endReason = h.writeFailed(sub, r, err)
		}
		return nil
	}
	// Mercure does not end a stream when its token expires; nor does this.
	endReason = h.pump(st, sub, r, nil)
	return nil
}
