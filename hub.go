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

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"go.uber.org/zap"
)

// This file is the Caddy side of hubs: the pool that keeps them across
// config reloads, lookup by name, taking a handler's hub (shared by the
// handlers of one hub in a config: hubgroup.go), and the Caddy events that
// end streams.

// hubs holds the hubs of all loaded configs, so a hub and its history
// outlive config reloads. The key is the hub's name plus its transport's
// identity: a reload that changes the transport gets a new hub.
var hubs = caddy.NewUsagePool()

// pooledHub is a hub in the pool.
type pooledHub struct {
	*hub.Hub
	hooks hubHooks // its webhook senders
}

// Destruct implements caddy.Destructor: the last handler using the hub is
// gone.
func (p *pooledHub) Destruct() error {
	p.closeHooks()
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
// Provision fails. The handlers of one hub in one config share its hub:
// a handler that brings the group's first explicit transport moves the
// handlers provisioned before it, which took the default one, to it.
func (h *Handler) takeHub(events *caddyevents.App, hooks []hookConfig) error {
	groupsMu.Lock()
	defer groupsMu.Unlock()
	g := h.group
	settings := g.settings()
	newHub := func() (caddy.Destructor, error) {
		hb := hub.New(h.Hub, settings.hubSettings(), hub.Options{Log: h.transport.NewLog(h.Hub, h.logger)})
		return &pooledHub{Hub: hb}, nil
	}
	val, loaded, err := hubs.LoadOrNew(h.poolKey, newHub)
	if err != nil {
		return fmt.Errorf("hub %q: %v", h.Hub, err)
	}
	ph := val.(*pooledHub)
	h.hub, h.pooled = ph.Hub, ph
	if err := ph.agreeOnWebhooks(events, hooks); err != nil {
		return err
	}
	if g.ph != nil && g.poolKey == h.poolKey {
		return nil
	}
	for _, other := range g.handlers {
		if other == h || other.hub == nil {
			continue
		}
		if _, _, err := hubs.LoadOrNew(h.poolKey, newHub); err != nil {
			return fmt.Errorf("hub %q: %v", h.Hub, err)
		}
		if _, err := hubs.Delete(other.poolKey); err != nil {
			return fmt.Errorf("hub %q: %v", h.Hub, err)
		}
		other.transport, other.poolKey, other.hub, other.pooled = h.transport, h.poolKey, ph.Hub, ph
	}
	g.ph, g.poolKey, g.created = ph, h.poolKey, !loaded
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

// stopListener ends the handler's streams when Caddy emits "stopping".
type stopListener struct{ h *Handler }

// Handle implements caddyevents.Handler.
func (l stopListener) Handle(context.Context, caddy.Event) error {
	l.h.stop()
	return nil
}
