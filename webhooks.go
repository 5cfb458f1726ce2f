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

// This file is the Caddy side of webhooks (SPEC §13): a hub's senders
// live with the pooled hub, so they survive reloads that keep their
// configuration, take a new configuration once the config that brings it
// has started, and close with the hub.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/webhook"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
)

// hookConfig is one webhook of a handler, resolved at provision.
type hookConfig struct {
	key  string // equal for equal configurations; holds a hash of the secret, never the secret
	opts webhook.Options
}

// hookSender is a running webhook sender and the configuration it runs.
type hookSender struct {
	key string
	*webhook.Sender
}

// hubHooks are the webhook senders of a pooled hub.
type hubHooks struct {
	senders atomic.Pointer[[]*hookSender] // read on every stream open and close

	mu      sync.Mutex // serialises changes of senders
	owner   any        // the events app of the config whose webhooks are pending
	pending []hookConfig
	closed  bool
	retired webhook.Stats // counts of the senders closed so far
}

// resolveWebhooks checks the handler's webhooks and resolves their
// placeholders; it runs in Provision, before the hub is taken.
func (h *Handler) resolveWebhooks() ([]hookConfig, error) {
	var out []hookConfig
	for _, cfg := range h.Webhooks {
		if cfg == nil {
			continue
		}
		opts, err := cfg.Options(h.Hub, h.presenceOn(), h.logger)
		if err != nil {
			return nil, err
		}
		for _, other := range out {
			if other.opts.URL == opts.URL {
				return nil, fmt.Errorf("webhook %s is given twice; one per URL", opts.URL)
			}
		}
		types := make([]string, len(opts.Types))
		for i, t := range opts.Types {
			types[i] = string(t)
		}
		slices.Sort(types)
		sum := sha256.Sum256(opts.Secret)
		key := strings.Join([]string{opts.URL, hex.EncodeToString(sum[:]), strings.Join(types, " "),
			opts.Timeout.String(), fmt.Sprint(opts.Queue)}, "\x00")
		out = append(out, hookConfig{key: key, opts: opts})
	}
	return out, nil
}

// presenceOn tells whether the handler's hub tracks presence (SPEC §12),
// which join and leave webhooks need.
func (h *Handler) presenceOn() bool { return h.Presence }

// agreeOnWebhooks records the webhooks of a config's handlers of the hub,
// to apply once that config has started. Handlers that set none take
// those of another handler of the config (SPEC §11); two that set
// different ones are an error.
func (ph *pooledHub) agreeOnWebhooks(events *caddyevents.App, hooks []hookConfig) error {
	hh := &ph.hooks
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if hh.owner == events {
		switch {
		case len(hooks) == 0:
		case len(hh.pending) == 0:
			hh.pending = hooks
		case !sameHooks(hh.pending, hooks):
			return fmt.Errorf("hub %q: handlers in this config disagree on its webhooks: %s and %s",
				ph.Name(), hookURLs(hh.pending), hookURLs(hooks))
		}
		return nil
	}
	hh.owner, hh.pending = events, hooks
	return events.On("started", hooksListener{ph, events})
}

func sameHooks(a, b []hookConfig) bool {
	return slices.EqualFunc(a, b, func(x, y hookConfig) bool { return x.key == y.key })
}

func hookURLs(hooks []hookConfig) string {
	urls := make([]string, len(hooks))
	for i, hc := range hooks {
		urls[i] = hc.opts.URL
	}
	return "[" + strings.Join(urls, " ") + "]"
}

// hooksListener gives a hub the webhooks of the config that has just
// started, unless a newer config has claimed it since.
type hooksListener struct {
	ph     *pooledHub
	events *caddyevents.App
}

// Handle implements caddyevents.Handler.
func (l hooksListener) Handle(context.Context, caddy.Event) error {
	hh := &l.ph.hooks
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if hh.owner == l.events {
		l.ph.setHooks(hh.pending)
	}
	return nil
}

// setHooks runs the senders of hooks: a sender whose configuration is
// unchanged keeps running, with its queue; the others are closed. The
// hub hands its events to them while there is one: its observer turns
// occupancy tracking on, and off again without webhooks (unless presence
// is on). The caller holds hooks.mu.
func (ph *pooledHub) setHooks(hooks []hookConfig) {
	hh := &ph.hooks
	if hh.closed {
		return
	}
	var old []*hookSender
	if p := hh.senders.Load(); p != nil {
		old = slices.Clone(*p) // readers may still range over *p
	}
	next := make([]*hookSender, 0, len(hooks))
	for _, hc := range hooks {
		i := slices.IndexFunc(old, func(s *hookSender) bool { return s != nil && s.key == hc.key })
		if i >= 0 {
			next = append(next, old[i])
			old[i] = nil
			continue
		}
		next = append(next, &hookSender{key: hc.key, Sender: webhook.New(hc.opts)})
	}
	hh.senders.Store(&next)
	if len(next) > 0 {
		ph.SetObserver(ph.observeHub)
	} else {
		ph.SetObserver(nil)
	}
	for _, s := range old {
		if s != nil {
			s.Close()
			st := s.Stats()
			hh.retired.Delivered += st.Delivered
			hh.retired.Dropped += st.Dropped
			hh.retired.Failed += st.Failed
		}
	}
}

// closeHooks stops every sender, for good: the hub is gone.
func (ph *pooledHub) closeHooks() {
	ph.hooks.mu.Lock()
	defer ph.hooks.mu.Unlock()
	ph.setHooks(nil)
	ph.hooks.closed = true
}

// observeHub is the hub's observer while it has webhooks: every presence
// event (occupied, vacated, join, leave, connect, disconnect) becomes a
// webhook event of the same type and fields.
func (ph *pooledHub) observeHub(e hub.PresenceEvent) {
	ph.observe(webhook.Event{Type: webhook.Type(e.Type), Time: e.Time, Topic: e.Topic, Identity: e.Identity,
		Count: e.Count, Remote: e.Remote, Selectors: e.Selectors, Reason: string(e.Reason)})
}

// observe hands an event of the hub to each of its webhooks that sends
// its type; it never blocks.
func (ph *pooledHub) observe(ev webhook.Event) {
	if p := ph.hooks.senders.Load(); p != nil {
		for _, s := range *p {
			s.Enqueue(ev)
		}
	}
}

// webhookStats sums the counters of the hub's webhooks, closed ones
// included; ok is false for a hub that never had any.
func (ph *pooledHub) webhookStats() (st webhook.Stats, ok bool) {
	hh := &ph.hooks
	hh.mu.Lock()
	defer hh.mu.Unlock()
	st = hh.retired
	ok = st != (webhook.Stats{})
	if p := hh.senders.Load(); p != nil {
		for _, s := range *p {
			cur := s.Stats()
			st.Delivered += cur.Delivered
			st.Dropped += cur.Dropped
			st.Failed += cur.Failed
			st.Queued += cur.Queued
			ok = true
		}
	}
	return st, ok
}
