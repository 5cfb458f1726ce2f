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
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	// The Redis transport registers itself; importing it here puts it in
	// every Caddy built with the plugin.
	_ "github.com/caddy-sse/caddy-sse/redis"
	"github.com/caddy-sse/caddy-sse/webhook"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
	caddy.RegisterModule(AdminAPI{})
	caddy.RegisterModule(MemoryTransport{})
	caddycmd.RegisterCommand(sseCommand())
	httpcaddyfile.RegisterHandlerDirective("sse", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("sse", httpcaddyfile.After, "encode")
}

// Defaults of the handler's options.
const (
	defaultHub          = "default"
	defaultHistory      = 1000
	defaultHistorySize  = 64 << 20
	defaultHeartbeat    = 15 * time.Second
	defaultRetry        = 2 * time.Second
	defaultBuffer       = 1024
	defaultWriteTimeout = 10 * time.Second
	defaultMaxTopics    = 32
	defaultMaxEventSize = 1 << 20
	defaultMaxBodySize  = 4 << 20
	defaultTokenQuery   = "token"
	defaultTokenCookie  = "sse_token"
	tokenSourceOff      = "off"
)

// Handler serves one route of a named SSE hub: GET subscribes to topics and
// streams their events, POST publishes events.
type Handler struct {
	// Hub names the hub this route serves. Routes, sites and successive
	// configs naming the same hub share its subscribers, history and ids.
	// Names are 1–64 characters of A-Za-z0-9._-. Default: "default".
	Hub string `json:"hub,omitempty"`

	// History is how many events the hub keeps for Last-Event-ID resume
	// and replay; 0 keeps none. A hub option. Default: 1000.
	History *int `json:"history,omitempty"`

	// HistoryAge drops events older than this from the hub's history.
	// A hub option. Default: 0 (no age limit).
	HistoryAge caddy.Duration `json:"history_age,omitempty"`

	// HistorySize bounds the bytes of encoded events in the hub's history.
	// A hub option. Default: 67108864 (64 MiB).
	HistorySize int64 `json:"history_size,omitempty"`

	// MaxSubscribers bounds the hub's concurrent streams; 0 is unlimited.
	// A hub option. Default: 0.
	MaxSubscribers int `json:"max_subscribers,omitempty"`

	// Presence tracks who is on each exact topic a stream subscribed to
	// (identities with their streams, plus anonymous streams), answers
	// GET <route>?presence=<topic> and the admin API's presence endpoint,
	// and sends sse.join/sse.leave to streams opened with presence=on.
	// A hub option. Default: off.
	Presence bool `json:"presence,omitempty"`

	// PresenceGrace is how long a member whose last stream closed stays a
	// member, and a topic whose last stream closed stays occupied, so that
	// reloads and quick reconnects make no leave/join pair. A hub option.
	// Default: 5s.
	PresenceGrace caddy.Duration `json:"presence_grace,omitempty"`

	// MaxPerClient bounds the streams of one identity ({http.auth.user.id})
	// or, for anonymous clients, one client IP, counted across the hub;
	// 0 is unlimited. Default: 0.
	MaxPerClient int `json:"max_per_client,omitempty"`

	// Heartbeat is how long a stream may stay idle before a comment line
	// is sent to keep proxies from closing it and to detect dead peers;
	// 0 turns heartbeats off. Default: 15s.
	Heartbeat *caddy.Duration `json:"heartbeat,omitempty"`

	// Retry is the reconnection delay sent to clients in the retry: field.
	// Default: 2s.
	Retry caddy.Duration `json:"retry,omitempty"`

	// Buffer bounds each subscriber's queue of events not yet written; a
	// subscriber whose queue is full is disconnected and resumes from
	// history. Default: 1024.
	Buffer int `json:"buffer,omitempty"`

	// WriteTimeout is the deadline for each write and flush to a stream; a
	// subscriber that misses it is disconnected. Streams take it in place of
	// the server's write timeout, which would end them. Default: 10s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`

	// MaxTopics bounds the selectors of one subscription. Default: 32.
	MaxTopics int `json:"max_topics,omitempty"`

	// MaxEventSize bounds one encoded event, in bytes. Default: 1048576 (1 MiB).
	MaxEventSize int64 `json:"max_event_size,omitempty"`

	// MaxBodySize bounds a publish request body, in bytes; the body is never
	// read past it. Default: 4194304 (4 MiB).
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	// Publish enables publishing with POST on this route. Default: true.
	Publish *bool `json:"publish,omitempty"`

	// SubscribeAllow lists selector templates every request reaching this
	// handler may subscribe to. Caddy placeholders are replaced per request;
	// an unknown or empty placeholder, or a value holding '/', '*' or
	// whitespace, makes its template grant nothing. Default: none.
	SubscribeAllow []string `json:"subscribe_allow,omitempty"`

	// PublishAllow lists selector templates every request reaching this
	// handler may publish to, with the same rules as SubscribeAllow.
	// Default: none.
	PublishAllow []string `json:"publish_allow,omitempty"`

	// Topics declares the stream this route serves: a GET that names no
	// topic subscribes to these selector templates, with placeholders
	// replaced per request as for SubscribeAllow (a template that expands
	// to nothing is dropped; with none left, the request is refused like
	// one without grants). Declaring is granting, for this route: declared
	// topics need no SubscribeAllow. A request may still name topics.
	// Default: none (a GET must name its topics).
	Topics []string `json:"topics,omitempty"`

	// JWT verifies tokens that identify a client ("sub") and grant it
	// topics (claims {"sse":{"subscribe":[...],"publish":[...]}}), on
	// top of SubscribeAllow and PublishAllow. Default: none (tokens are
	// not looked at).
	JWT *JWTConfig `json:"jwt,omitempty"`

	// TokenQuery is the query parameter a token may come in, for clients
	// such as EventSource that cannot send headers; "off" turns it off.
	// Default: "token".
	TokenQuery string `json:"token_query,omitempty"`

	// TokenCookie is the cookie a token may come in; "off" turns it off.
	// A publish authenticated by this cookie alone must carry an Origin
	// (or Referer) of this site or of CORSOrigins. Default: "sse_token".
	TokenCookie string `json:"token_cookie,omitempty"`

	// CORSOrigins lists the origins (scheme://host[:port]) whose pages
	// may subscribe and publish from the browser: they get CORS headers
	// with credentials, and preflight requests from them are answered.
	// Other origins are never reflected. Default: none.
	CORSOrigins []string `json:"cors_origins,omitempty"`

	// TransportRaw is where the hub stores events and reads them from:
	// "memory" (this instance only) or "redis" (a Redis stream shared by
	// every instance with the same hub name and URL). A hub option.
	// Default: memory.
	TransportRaw json.RawMessage `json:"transport,omitempty" caddy:"namespace=sse.transports inline_key=name"`

	// UI serves a console to a browser that opens the route (a GET that
	// accepts text/html and names no topic): watch topics and publish
	// events without writing code. The JavaScript client at <route>?client
	// is served with or without it. Default: off.
	UI bool `json:"ui,omitempty"`

	// Source says where the handler is configured, for the errors that
	// must point at it (two handlers of one hub setting a hub option to
	// different values): the Caddyfile adapter sets it to the file and
	// line of the sse directive; in a JSON config, set it to whatever
	// names the handler for you. Default: none.
	Source string `json:"source,omitempty"`

	// Webhooks send events of the hub (occupied, vacated, join, leave,
	// connect, disconnect) to backends, in signed batches (SPEC §13). A
	// hub option; at most one per URL. A reload that keeps a webhook's
	// configuration keeps its queue. Default: none.
	Webhooks []*webhook.Config `json:"webhooks,omitempty"`

	// Mercure makes this route speak the Mercure 0.x protocol on the
	// hub (SPEC §14): opaque topics, URI-template selectors, the publish
	// form and Mercure JWTs. Default: none (the native protocol).
	Mercure *MercureConfig `json:"mercure,omitempty"`

	verifier           *tokenVerifier
	mercure            *mercureRoute // built from Mercure by Provision
	subscribeTemplates []string      // SubscribeAllow and Topics
	corsOrigins        []string      // lowercased

	transport Transport
	poolKey   string // the hub's key in the pool: its name, plus the transport's identity
	group     *hubGroup

	unsetWarned *sync.Map // templates and placeholders reported unset

	hub      *hub.Hub
	pooled   *pooledHub // hub's entry in the pool
	logger   *zap.Logger
	stopping context.Context // done when this handler's streams must end
	stop     context.CancelFunc
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sse",
		New: func() caddy.Module { return new(Handler) },
	}
}

var hubNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Provision sets defaults, checks the options, loads the transport and
// takes the named hub from the pool. It does no I/O: it also runs under
// caddy validate.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.unsetWarned = new(sync.Map)
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	h.stopping, h.stop = context.WithCancel(context.Background())
	if h.Hub == "" {
		h.Hub = defaultHub
	}
	// The events app is one per config: it identifies the config for the
	// hub options its handlers share, and its events start transports,
	// apply settings and end streams on time.
	eventsApp, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("loading events app: %v", err)
	}
	events := eventsApp.(*caddyevents.App)
	// Before the defaults: an option left unset takes the value another
	// handler of the hub sets.
	if err := h.joinHubGroup(events); err != nil {
		return err
	}
	h.setDefaults()
	if err := h.validateOptions(); err != nil {
		return err
	}
	if err := h.provisionMercure(); err != nil {
		return err
	}
	if h.Mercure == nil && len(h.SubscribeAllow) == 0 && len(h.PublishAllow) == 0 && len(h.Topics) == 0 && h.JWT == nil {
		// Safe, and almost certainly not what the operator meant.
		h.logger.Warn("this sse route serves nothing: it has no subscribe_allow, publish_allow, topics or jwt, so every request gets 401",
			zap.String("hub", h.Hub))
	}
	if h.JWT != nil {
		if h.verifier, err = newTokenVerifier(ctx, h.JWT, h.logger); err != nil {
			return err
		}
	}
	h.listenForStop(events)
	hooks, err := h.resolveWebhooks()
	if err != nil {
		return err
	}
	if err := h.loadTransport(ctx); err != nil {
		return err
	}
	return h.takeHub(events, hooks)
}

// setDefaults fills in every option left unset.
func (h *Handler) setDefaults() {
	if h.Hub == "" {
		h.Hub = defaultHub
	}
	if h.History == nil {
		n := defaultHistory
		h.History = &n
	}
	if h.HistorySize == 0 {
		h.HistorySize = defaultHistorySize
	}
	if h.Heartbeat == nil {
		d := caddy.Duration(defaultHeartbeat)
		h.Heartbeat = &d
	}
	if h.Retry == 0 {
		h.Retry = caddy.Duration(defaultRetry)
	}
	if h.Buffer == 0 {
		h.Buffer = defaultBuffer
	}
	if h.WriteTimeout == 0 {
		h.WriteTimeout = caddy.Duration(defaultWriteTimeout)
	}
	if h.MaxTopics == 0 {
		h.MaxTopics = defaultMaxTopics
	}
	if h.MaxEventSize == 0 {
		h.MaxEventSize = defaultMaxEventSize
	}
	if h.MaxBodySize == 0 {
		h.MaxBodySize = defaultMaxBodySize
	}
	if h.Publish == nil {
		on := true
		h.Publish = &on
	}
	if h.TokenQuery == "" {
		h.TokenQuery = defaultTokenQuery
	}
	if h.TokenCookie == "" {
		h.TokenCookie = defaultTokenCookie
	}
}

// loadTransport loads the transport module (memory when none is
// configured) and derives the hub's key in the pool from it.
func (h *Handler) loadTransport(ctx caddy.Context) error {
	h.transport = MemoryTransport{}
	if h.TransportRaw != nil {
		mod, err := ctx.LoadModule(h, "TransportRaw")
		if err != nil {
			return fmt.Errorf("loading transport: %v", err)
		}
		t, ok := mod.(Transport)
		if !ok {
			return fmt.Errorf("module %T is not an sse transport", mod)
		}
		h.transport = t
	}
	h.poolKey = h.Hub
	if id := h.transport.Identity(); id != "" {
		h.poolKey += "\x00" + id
	}
	return nil
}

func (h *Handler) hubSettings() hub.Settings {
	return hub.Settings{
		History:        *h.History,
		HistoryAge:     time.Duration(h.HistoryAge),
		HistorySize:    h.HistorySize,
		MaxSubscribers: h.MaxSubscribers,
		Presence:       h.Presence,
		PresenceGrace:  time.Duration(h.PresenceGrace),
	}
}

// validateOptions checks option values; it runs in Provision, before the
// hub is taken, so that a bad config takes nothing from the pool.
func (h *Handler) validateOptions() error {
	if !hubNameRE.MatchString(h.Hub) {
		return fmt.Errorf("hub name %q: want 1-64 characters of A-Za-z0-9._-", h.Hub)
	}
	for name, v := range map[string]int64{
		"history": int64(*h.History), "history_age": int64(h.HistoryAge),
		"history_size": h.HistorySize, "max_subscribers": int64(h.MaxSubscribers),
		"max_per_client": int64(h.MaxPerClient), "heartbeat": int64(*h.Heartbeat),
		"retry": int64(h.Retry), "buffer": int64(h.Buffer), "write_timeout": int64(h.WriteTimeout),
		"max_topics": int64(h.MaxTopics), "max_event_size": h.MaxEventSize, "max_body_size": h.MaxBodySize,
		"presence_grace": int64(h.PresenceGrace),
	} {
		if v < 0 {
			return fmt.Errorf("%s must not be negative", name)
		}
	}
	for _, list := range [][]string{h.SubscribeAllow, h.PublishAllow, h.Topics} {
		for _, tpl := range list {
			if err := validateTemplate(tpl); err != nil {
				return fmt.Errorf("grant %q: %v", tpl, err)
			}
		}
	}
	if !validTokenName(h.TokenQuery) || !validTokenName(h.TokenCookie) {
		return errors.New("token_query and token_cookie must be names of letters, digits, '-', '_' and '.', or off")
	}
	h.subscribeTemplates = slices.Concat(h.SubscribeAllow, h.Topics)
	h.corsOrigins = nil
	for _, origin := range h.CORSOrigins {
		if err := validateOrigin(origin); err != nil {
			return err
		}
		h.corsOrigins = append(h.corsOrigins, strings.ToLower(origin))
	}
	return nil
}

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func validTokenName(name string) bool { return tokenNameRE.MatchString(name) }

// validateTemplate checks a grant template: with placeholders standing in
// for one plain segment value, it must be a valid selector.
func validateTemplate(tpl string) error {
	repl := caddy.NewEmptyReplacer()
	sel, err := repl.ReplaceFunc(tpl, func(string, any) (any, error) { return "x", nil })
	if err != nil {
		return err
	}
	return hub.ValidateSelector(sel)
}

// Cleanup ends the handler's streams and gives its hub back to the pool.
func (h *Handler) Cleanup() error {
	if h.stop != nil {
		h.stop()
	}
	h.leaveHubGroup()
	if h.verifier != nil && h.verifier.jwks != nil {
		h.verifier.jwks.close()
	}
	if h.hub == nil {
		return nil
	}
	if _, err := hubs.Delete(h.poolKey); err != nil {
		return fmt.Errorf("releasing hub %q: %v", h.Hub, err)
	}
	return nil
}

// ServeHTTP subscribes on GET and publishes on POST.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if answered, err := h.serveCORS(w, r); answered {
		return err
	}
	if h.mercure != nil {
		return h.serveMercure(w, r)
	}
	if answered, err := h.serveUI(w, r); answered {
		return err
	}
	switch {
	case r.Method == http.MethodGet:
		return h.serveSubscribe(w, r)
	case r.Method == http.MethodPost && *h.Publish:
		return h.servePublish(w, r)
	}
	allow := "GET"
	if *h.Publish {
		allow = "GET, POST"
	}
	w.Header().Set("Allow", allow)
	return writeError(w, r, http.StatusMethodNotAllowed, errors.New("method not allowed; use "+allow))
}

// capacityRetry is the long, jittered delay sent to a client turned away
// at capacity.
func capacityRetry() time.Duration {
	return 30*time.Second + rand.N(30*time.Second)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyevents.Handler         = stopListener{}
	_ caddyevents.Handler         = groupListener{}
	_ caddyevents.Handler         = hooksListener{}
)
