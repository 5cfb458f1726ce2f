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
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"go.uber.org/zap"
)

// This file is the Caddy side of hubs: the pool that keeps them across
// config reloads, lookup by name, the agreement of one config's handlers
// on a hub's settings, and the Caddy events that start a hub's transport,
// apply new settings and end streams.

// hubs holds the hubs of all loaded configs, so a hub and its history
// outlive config reloads. The key is the hub's name plus its transport's
// identity: a reload that changes the transport gets a new hub.
var hubs = caddy.NewUsagePool()

// pooledHub is a hub in the pool plus the config that last provisioned a
// handler of it and that config's settings, so that handlers of one config
// must agree on them.
type pooledHub struct {
	*hub.Hub
	mu      sync.Mutex
	owner   any          // the events app of that config
	pending hub.Settings // its settings, applied once it has started
}

// Destruct implements caddy.Destructor: the last handler using the hub is
// gone.
func (p *pooledHub) Destruct() error {
	p.Close()
	return nil
}

// LookupHub returns the hub of that name in Caddy's running config, for
// other Caddy modules (an app server embedded in Caddy, say) to publish
// to or read from in-process:
//
//	if h, ok := caddysse.LookupHub("default"); ok {
//		ids, err := h.Publish(ctx, []*hub.Event{{Topics: []string{"news"}, Data: "hi"}}, "", 0)
//	}
//
// A hub lives as long as a loaded config has an sse handler naming it, and
// survives reloads; look it up again rather than keep it past a reload of
// your own module. Events must pass Event.Validate before Publish.
func LookupHub(name string) (*hub.Hub, bool) {
	var found *hub.Hub
	hubs.Range(func(_, v any) bool {
		if p := v.(*pooledHub); p.Name() == name {
			found = p.Hub
			return false
		}
		return true
	})
	return found, found != nil
}

// pooledHubs returns the hubs of the loaded configs, by name.
func pooledHubs() []*pooledHub {
	var out []*pooledHub
	hubs.Range(func(_, v any) bool {
		out = append(out, v.(*pooledHub))
		return true
	})
	slices.SortFunc(out, func(a, b *pooledHub) int { return cmp.Compare(a.Name(), b.Name()) })
	// While a reload changes a hub's transport, the old hub and the new
	// one share the name for a moment: list it once.
	return slices.CompactFunc(out, func(a, b *pooledHub) bool { return a.Name() == b.Name() })
}

// takeHub takes the handler's hub from the pool, creating it on first
// use, and sets h.hub; from then on Cleanup gives it back, also when
// Provision fails. It checks that the handlers of one config agree on
// the hub's settings and transport, and arranges for a surviving hub to
// take new settings once the config that brings them has started.
func (h *Handler) takeHub(events *caddyevents.App) error {
	settings := h.hubSettings()
	logger := h.logger
	val, loaded, err := hubs.LoadOrNew(h.poolKey, func() (caddy.Destructor, error) {
		hb := hub.New(h.Hub, settings, hub.Options{Log: h.transport.NewLog(h.Hub, logger)})
		return &pooledHub{Hub: hb, owner: events, pending: settings}, nil
	})
	if err != nil {
		return fmt.Errorf("hub %q: %v", h.Hub, err)
	}
	ph := val.(*pooledHub)
	h.hub = ph.Hub
	if err := checkOneTransport(ph, events); err != nil {
		return err
	}
	if !loaded {
		// A shared log starts reading with the config, not at provision:
		// a config that is only validated never dials.
		return events.On("started", startListener{ph.Hub})
	}
	return agreeOnSettings(ph, events, settings, h.Hub)
}

// agreeOnSettings checks a surviving hub's settings against those of
// another handler of the same config, or, for the first handler of a new
// config, records them to apply once that config has started: a config
// that fails to load, or is only validated, must leave the running
// config's hub, and its history, as they were.
func agreeOnSettings(ph *pooledHub, events *caddyevents.App, settings hub.Settings, name string) error {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if ph.owner == events {
		if ph.pending != settings {
			return fmt.Errorf("hub %q: handlers in this config disagree on history, history_age, history_size, max_subscribers, presence or presence_grace", name)
		}
		return nil
	}
	ph.owner, ph.pending = events, settings
	if err := events.On("started", applyListener{ph.Hub, settings}); err != nil {
		ph.Apply(settings)
	}
	return nil
}

// checkOneTransport refuses a config whose handlers name one hub with
// different transports: each would get a hub of its own.
func checkOneTransport(ph *pooledHub, events any) error {
	var clash bool
	hubs.Range(func(_, v any) bool {
		other := v.(*pooledHub)
		if other != ph && other.Name() == ph.Name() {
			other.mu.Lock()
			clash = other.owner == events
			other.mu.Unlock()
		}
		return !clash
	})
	if clash {
		return fmt.Errorf("hub %q: handlers in this config disagree on its transport", ph.Name())
	}
	return nil
}

// listenForStop ends the handler's streams on the config's "stopping"
// event, which Caddy emits before it waits for open requests on reload
// and exit; without it, streams end at Cleanup.
func (h *Handler) listenForStop(events *caddyevents.App) {
	if err := events.On("stopping", stopListener{h}); err != nil {
		h.logger.Debug("stopping event unavailable; streams end at cleanup", zap.Error(err))
	}
}

// startListener starts a hub's log once its config has started.
type startListener struct{ hub *hub.Hub }

// Handle implements caddyevents.Handler.
func (l startListener) Handle(context.Context, caddy.Event) error {
	l.hub.Log().Start()
	return nil
}

// applyListener gives a surviving hub the settings of the config that
// has just started.
type applyListener struct {
	hub      *hub.Hub
	settings hub.Settings
}

// Handle implements caddyevents.Handler.
func (l applyListener) Handle(context.Context, caddy.Event) error {
	l.hub.Apply(l.settings)
	return nil
}

// stopListener ends the handler's streams when Caddy emits "stopping".
type stopListener struct{ h *Handler }

// Handle implements caddyevents.Handler.
func (l stopListener) Handle(context.Context, caddy.Event) error {
	l.h.stop()
	return nil
}
