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
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Fixed pieces of the stream.
var (
	streamOpening    = []byte(":ok\n\n")
	heartbeatComment = []byte(":\n\n")
)

// A batch of events goes out in one write and flush under one
// write_timeout deadline, so it stops at maxWriteBatch events or once it
// holds maxWriteBatchBytes: a client that keeps reading, only not fast
// enough to take a whole backlog or replay within one write_timeout, must
// not be dropped for it.
const (
	maxWriteBatch      = 64
	maxWriteBatchBytes = 256 << 10
)

// serveSubscribe handles a GET: it validates the selectors, checks the
// subscribe grants, registers with the hub and streams events until the
// client leaves, the hub drops it, or Caddy stops or reloads.
func (h *Handler) serveSubscribe(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	if query.Has("presence") && !h.presenceEventsAsked(query) {
		return h.servePresence(w, r, query)
	}
	selectors := query["topic"]
	declared := len(selectors) == 0 && len(h.Topics) > 0 // the route's own stream
	if len(selectors) == 0 && !declared {
		return writeError(w, r, http.StatusBadRequest, errors.New("topic is missing: subscribe with ?topic=<selector>"))
	}
	if len(selectors) > h.MaxTopics {
		return writeError(w, r, http.StatusBadRequest, fmt.Errorf("too many topics: at most %d per subscription", h.MaxTopics))
	}
	for i, sel := range selectors {
		if err := hub.ValidateSelector(sel); err != nil {
			return writeError(w, r, http.StatusBadRequest, fmt.Errorf("topic %d: %v", i+1, err))
		}
	}

	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	auth, grants, err := h.authorize(r, repl, false)
	if err != nil {
		return writeAuthError(w, r, err)
	}
	if declared {
		// Expanded after authorize, which makes a token's sub the
		// {http.auth.user.id} that per-user topics name.
		if selectors = h.expandGrants(repl, h.Topics); len(selectors) == 0 {
			return writeAuthError(w, r, h.notGranted(auth, "this stream's topics name a user, and the request has none"))
		}
		selectors = slices.Clone(selectors) // sorted below; the templates are shared
	}
	slices.Sort(selectors)
	selectors = slices.Compact(selectors)
	for _, sel := range selectors {
		if !allowed(grants, sel) {
			return writeAuthError(w, r, h.notGranted(auth, fmt.Sprintf("not allowed to subscribe to %q", sel)))
		}
	}

	req := hub.SubscribeRequest{Selectors: selectors, Buffer: h.Buffer, MaxPerClient: h.MaxPerClient, Remote: r.RemoteAddr}
	if query.Has("presence") {
		if !h.Presence {
			return writeError(w, r, http.StatusBadRequest, errPresenceOff)
		}
		req.Presence = true
	}
	req.LastEventID, req.HasLastEventID = resumeID(r, query)
	if query.Has("replay") {
		n, err := strconv.Atoi(query.Get("replay"))
		if err != nil || n < 0 {
			return writeError(w, r, http.StatusBadRequest, errors.New("replay must be a non-negative integer"))
		}
		req.Replay = n
	}
	req.Identity, _ = repl.GetString("http.auth.user.id")
	req.Client = req.Identity
	if req.Client == "" {
		req.Client, _ = caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	}

	sub, err := h.hub.Subscribe(req)
	if errors.Is(err, hub.ErrCapacity) {
		h.logger.Warn("subscriber turned away at capacity",
			zap.String("hub", h.Hub), zap.String("remote", r.RemoteAddr), zap.String("identity", req.Identity))
		return h.serveCapacity(w, r)
	}
	if err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	// The reason the stream ended reaches presence observers (webhooks'
	// disconnect); the hub knows it only when the hub ended the stream.
	endReason := hub.ReasonClientGone
	defer func() { sub.End(endReason) }()
	if ce := h.logger.Check(zapcore.DebugLevel, "subscriber connected"); ce != nil {
		ce.Write(zap.String("hub", h.Hub), zap.Uint64("subscriber", sub.ID),
			zap.String("remote", r.RemoteAddr), zap.String("identity", req.Identity),
			zap.Strings("selectors", selectors), zap.Int("replay", len(sub.Replay)))
	}

	st := h.openStream(w, r, sub.StartID)
	defer st.release()
	// One channel tells the stream to end, whether the client left or the
	// handler is stopping: the pump selects on it once per event, and a
	// select costs per channel.
	ending, end := context.WithCancel(h.stopping)
	defer end()
	defer context.AfterFunc(r.Context(), end)()
	st.end = ending.Done()
	opening := [][]byte{streamOpening, openingFields(time.Duration(h.Retry), sub.StartID)}
	if sub.ResetReason != "" {
		opening = append(opening, hub.ControlEvent("sse.reset", sub.NewestID, 0, `{"reason":"`+string(sub.ResetReason)+`"}`))
	}
	if err := st.send(opening...); err != nil {
		return nil
	}
	// A reload, shutdown or departed client ends a long replay between
	// batches; no live event may follow a partial replay, so the stream
	// ends there.
	if err := h.sendEvents(st, sub, r, sub.Replay); err != nil {
		switch {
		case errors.Is(err, errStopping):
			endReason = stoppingReason()
			_ = st.send(closeEvent(endReason, hub.ShortRetry()))
		case !errors.Is(err, errClientGone):
			endReason = h.writeFailed(sub, r, err) // a replay that misses write_timeout is a drop too
		}
		return nil
	}

	// A stream authenticated by a token ends when the token expires; the
	// timer is the pump's, not another goroutine.
	var expiry <-chan time.Time
	if auth.token != nil {
		timer := time.NewTimer(time.Until(auth.token.expires))
		defer timer.Stop()
		expiry = timer.C
	}
	reason := h.pump(st, sub, r, expiry)
	endReason = reason
	if ce := h.logger.Check(zapcore.DebugLevel, "subscriber disconnected"); ce != nil {
		ce.Write(zap.String("hub", h.Hub), zap.Uint64("subscriber", sub.ID), zap.String("remote", r.RemoteAddr), zap.String("reason", string(reason)))
	}
	return nil
}

// resumeQueryNames are the query parameters a resume id may come in when
// the client cannot send Last-Event-ID: ours, the one of the most used
// EventSource polyfill, and Mercure clients'.
var resumeQueryNames = []string{"last_event_id", "lastEventId", "lastEventID"}

// resumeID returns the id a client resumes after: the Last-Event-ID
// header, which a browser sends on reconnect, wins over the query.
func resumeID(r *http.Request, query url.Values) (string, bool) {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id, true
	}
	for _, name := range resumeQueryNames {
		if query.Has(name) {
			return query.Get(name), true
		}
	}
	return "", false
}

// pump writes live events and heartbeats until the stream ends, and
// returns why it ended.
func (h *Handler) pump(st *stream, sub *hub.Subscription, r *http.Request, expiry <-chan time.Time) hub.Reason {
	// The heartbeat timer is not reset on every write, which would cost a
	// timer update per event: when it fires, it is put off by the time
	// the stream has been writing since it was set.
	var heartbeat <-chan time.Time
	idle := time.Duration(*h.Heartbeat)
	var timer *time.Timer
	origin := time.Now()
	var lastWrite time.Duration // since origin
	if idle > 0 {
		timer = time.NewTimer(idle)
		defer timer.Stop()
		heartbeat = timer.C
	}
	ended, wake := sub.Done(), sub.Wake()
	var taken []*hub.Event
	for {
		select {
		case <-st.end:
			if errors.Is(h.endCause(r), errClientGone) {
				return hub.ReasonClientGone
			}
			reason := stoppingReason()
			_ = st.send(closeEvent(reason, hub.ShortRetry()))
			return reason
		case <-expiry:
			_ = st.send(closeEvent(hub.ReasonTokenExpired, 0))
			sub.CountDrop(hub.ReasonTokenExpired)
			return hub.ReasonTokenExpired
		case <-ended:
			if h.stopping.Err() != nil {
				// Cleanup closed the hub after the stop signal; both were
				// ready and select chose this one. The client must still
				// learn of the reload or shutdown and come back soon.
				reason := stoppingReason()
				_ = st.send(closeEvent(reason, hub.ShortRetry()))
				return reason
			}
			reason := sub.Reason()
			if reason == hub.ReasonSlow {
				h.logDrop(sub, reason, nil)
				return reason
			}
			_ = st.send(closeEvent(reason, sub.RetryAfter()))
			return reason
		case <-wake:
			taken = sub.Take(taken[:0])
			err := h.sendEvents(st, sub, r, taken)
			clear(taken) // let written events go
			switch {
			case errors.Is(err, errStopping):
				reason := stoppingReason()
				_ = st.send(closeEvent(reason, hub.ShortRetry()))
				return reason
			case errors.Is(err, errClientGone):
				return hub.ReasonClientGone
			case err != nil:
				return h.writeFailed(sub, r, err)
			}
			if timer != nil {
				lastWrite = time.Since(origin)
			}
		case <-heartbeat:
			if quiet := time.Since(origin) - lastWrite; quiet < idle {
				timer.Reset(idle - quiet)
				continue
			}
			if err := st.send(heartbeatComment); err != nil {
				return h.writeFailed(sub, r, err)
			}
			lastWrite = time.Since(origin)
			timer.Reset(idle)
		}
	}
}

// writeFailed counts and logs a stream dropped because a write failed,
// and returns why: the hub had dropped it already (a full queue while the
// write was blocked), the write timed out, it failed, or the client left.
func (h *Handler) writeFailed(sub *hub.Subscription, r *http.Request, err error) hub.Reason {
	if closed(sub.Done()) && sub.Reason() == hub.ReasonSlow {
		h.logDrop(sub, hub.ReasonSlow, err) // the hub counted it
		return hub.ReasonSlow
	}
	// The error decides next: net/http cancels the request's context on
	// a failed write, so a write that missed its deadline also looks like
	// a client that left.
	reason := hub.ReasonWriteFailed
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		reason = hub.ReasonWriteTimeout
	case r.Context().Err() != nil:
		return hub.ReasonClientGone
	}
	sub.CountDrop(reason)
	h.logDrop(sub, reason, err)
	return reason
}

// logDrop logs, once per stream, a stream the server dropped.
func (h *Handler) logDrop(sub *hub.Subscription, reason hub.Reason, err error) {
	msg := "subscriber dropped: write failed"
	if reason == hub.ReasonSlow {
		msg = "subscriber dropped: its queue is full"
	}
	fields := []zap.Field{zap.String("hub", h.Hub), zap.Uint64("subscriber", sub.ID),
		zap.String("remote", sub.Remote), zap.String("identity", sub.Identity), zap.String("reason", string(reason))}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	h.logger.Warn(msg, fields...)
}

// Reasons sendEvents stops between batches.
var (
	errStopping   = errors.New("handler stopping")
	errClientGone = errors.New("client gone")
)

// sendEvents writes evs in batches of at most maxWriteBatch events or
// maxWriteBatchBytes, each written and flushed under one write_timeout
// deadline: a client that keeps reading, only not fast enough to take a
// whole backlog within one write_timeout, is not dropped for it. Between
// batches it stops if the client left or the handler is stopping; before
// the first it does not look, as its callers have just done so.
func (h *Handler) sendEvents(st *stream, sub *hub.Subscription, r *http.Request, evs []*hub.Event) error {
	for first := true; len(evs) > 0; first = false {
		if !first && closed(st.end) {
			return h.endCause(r)
		}
		batch := st.batch[:0]
		for size := 0; len(batch) < len(evs) && len(batch) < maxWriteBatch && size < maxWriteBatchBytes; {
			batch = append(batch, evs[len(batch)].Wire())
			size += len(batch[len(batch)-1])
		}
		st.batch = batch
		if err := st.send(batch...); err != nil {
			return err
		}
		sub.Delivered(len(batch))
		evs = evs[len(batch):]
	}
	return nil
}

// endCause tells why a stream's end channel closed.
func (h *Handler) endCause(r *http.Request) error {
	if r.Context().Err() != nil {
		return errClientGone
	}
	return errStopping
}

// closed reports whether done is closed, without the lock that a
// context's Err takes.
func closed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// stoppingReason tells a stream ended by the handler's stop signal why.
func stoppingReason() hub.Reason {
	if caddy.Exiting() {
		return hub.ReasonShutdown
	}
	return hub.ReasonReload
}

// serveCapacity answers a subscriber turned away at capacity with a stream
// that tells it to stay away for a while: a non-200 status would make
// EventSource give up for good.
func (h *Handler) serveCapacity(w http.ResponseWriter, r *http.Request) error {
	st := h.openStream(w, r, "")
	defer st.release()
	_ = st.send(streamOpening, closeEvent(hub.ReasonCapacity, capacityRetry()))
	return nil
}

func closeEvent(reason hub.Reason, retry time.Duration) []byte {
	return hub.ControlEvent("sse.close", "", retry, `{"reason":"`+string(reason)+`"}`)
}

// openingFields is the stream's opening block: retry:, and the id to
// resume from. A block with id: and no data: sets the client's last event
// id without dispatching an event (HTML, "dispatch the event"), so that a
// stream that ends before its first event still resumes from where it
// started, not from the moment it reconnects.
func openingFields(d time.Duration, id string) []byte {
	b := []byte("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n")
	// The id is the hub's or one its log read; a line break would still
	// end the field early, so such an id is never written.
	if id != "" && !strings.ContainsAny(id, "\r\n\x00") {
		b = append(append(append(b, "id: "...), id...), '\n')
	}
	return append(b, '\n')
}
