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
	"net/http"
	"net/url"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
)

// This file is the HTTP side of presence (SPEC §12): the query on a route
// and on the admin API. The hub does the tracking.

// errPresenceOff answers a presence query or presence=on on a hub that
// does not track presence.
var errPresenceOff = errors.New("presence is off for this hub: add the presence option to its sse handlers")

// presenceEventsAsked tells presence=on on a subscription (sse.join and
// sse.leave events on the stream) from presence=<topic>, a query: "on"
// with topics to subscribe to, named or declared by the route, asks for
// events; anything else is the topic to query.
func (h *Handler) presenceEventsAsked(query url.Values) bool {
	return query.Get("presence") == "on" && (query.Has("topic") || len(h.Topics) > 0)
}

// servePresence answers GET <route>?presence=<topic> with the members of
// that topic, for a request that may subscribe to it: the same grants and
// the same 401 and 403 as subscribing. A hub without presence is a 404,
// after the grants are checked, so that it tells nothing to a stranger.
func (h *Handler) servePresence(w http.ResponseWriter, r *http.Request, query url.Values) error {
	if len(query["presence"]) > 1 || query.Has("topic") {
		return writeError(w, r, http.StatusBadRequest,
			errors.New("presence=<topic> asks who is on one topic and takes no other presence or topic parameter; presence=on with topic=… subscribes with sse.join/sse.leave events"))
	}
	topic := query.Get("presence")
	if err := hub.ValidateTopic(topic); err != nil {
		return writeError(w, r, http.StatusBadRequest, fmt.Errorf("presence: %v (it takes one topic, not a pattern)", err))
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	auth, grants, err := h.authorize(r, repl, false)
	if err != nil {
		return writeAuthError(w, r, err)
	}
	if !allowed(grants, topic) {
		return writeAuthError(w, r, h.notGranted(auth, fmt.Sprintf("not allowed to subscribe to %q", topic)))
	}
	if !h.Presence {
		return writeError(w, r, http.StatusNotFound, errPresenceOff)
	}
	info, ok := h.hub.Presence(topic)
	if !ok {
		// The config that turns presence on has not started yet.
		return writeError(w, r, http.StatusNotFound, errPresenceOff)
	}
	return writeJSON(w, info)
}

// adminPresence answers the admin API's GET /sse/hubs/<hub>/presence: one
// topic's members with ?topic=, else every tracked topic with its counts.
func adminPresence(w http.ResponseWriter, r *http.Request, hb *hub.Hub) error {
	query := r.URL.Query()
	if !hb.Settings().Presence {
		return apiError(http.StatusNotFound, fmt.Errorf("presence is off for hub %q", hb.Name()))
	}
	if !query.Has("topic") {
		topics, ok := hb.PresenceTopics()
		if !ok {
			return apiError(http.StatusNotFound, fmt.Errorf("presence is off for hub %q", hb.Name()))
		}
		return writeJSON(w, struct {
			Hub    string              `json:"hub"`
			Topics []hub.TopicPresence `json:"topics"`
		}{hb.Name(), topics})
	}
	topic := query.Get("topic")
	if err := hub.ValidateTopic(topic); err != nil {
		return apiError(http.StatusBadRequest, fmt.Errorf("topic: %v (it takes one topic, not a pattern)", err))
	}
	info, ok := hb.Presence(topic)
	if !ok {
		return apiError(http.StatusNotFound, fmt.Errorf("presence is off for hub %q", hb.Name()))
	}
	return writeJSON(w, info)
}
