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
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-sse/caddy-sse/webhook"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/dustin/go-humanize"
)

// This file makes the handlers of one config that name one hub agree on
// the hub's options: an option left unset on a handler takes the value
// another handler of the same hub sets, and only two explicit, different
// values are an error, which names the option, both values and where each
// was set. Handlers are provisioned one at a time and none sees the whole
// config, so the handlers of a hub in a config form a group that each joins
// at Provision: its first explicit value of an option wins, and reaches
// the handlers of the group that left the option unset, those provisioned
// before it included.

// hubOptions are the options that belong to the hub. Adding a hub option
// is adding its line here: unset is the field's zero value (as in JSON,
// where a zero value is left out), and values travel between handlers as
// JSON, as the handlers themselves do.
var hubOptions = []hubOption{
	option("history", func(h *Handler) **int { return &h.History }),
	option("history_age", func(h *Handler) *caddy.Duration { return &h.HistoryAge }),
	option("history_size", func(h *Handler) *int64 { return &h.HistorySize }),
	option("max_subscribers", func(h *Handler) *int { return &h.MaxSubscribers }),
	option("presence", func(h *Handler) *bool { return &h.Presence }),
	option("presence_grace", func(h *Handler) *caddy.Duration { return &h.PresenceGrace }),
	option("transport", func(h *Handler) *json.RawMessage { return &h.TransportRaw }),
	option("webhook", func(h *Handler) *[]*webhook.Config { return &h.Webhooks }),
}

// hubOption is one hub option: its name and where it is in a Handler.
type hubOption struct {
	name  string
	field func(h *Handler) reflect.Value // the field, settable
}

func option[T any](name string, field func(*Handler) *T) hubOption {
	return hubOption{name, func(h *Handler) reflect.Value { return reflect.ValueOf(field(h)).Elem() }}
}

// explicitValue is an option's value as a handler set it.
type explicitValue struct {
	canonical string // JSON with sorted keys, for comparing
	shown     string // for messages; never holds a secret
	where     string // where it was set
}

// hubGroup is the handlers of one config that name one hub.
type hubGroup struct {
	key      groupKey
	handlers []*Handler
	set      map[string]explicitValue // the options set explicitly, by name

	ph      *pooledHub // the hub taken from the pool, once one handler took it
	poolKey string
	created bool // the hub was created by this config, not kept from the running one
}

type groupKey struct {
	events *caddyevents.App // one per config
	hub    string
}

var (
	groupsMu sync.Mutex
	groups   = make(map[groupKey]*hubGroup)
)

// joinHubGroup adds h to the group of its hub in its config, creating the
// group on first use, after checking that its explicit hub options agree
// with the group's; it fills the hub options h leaves unset with the
// group's values, and gives h's explicit values to the group's handlers
// that left them unset. From then on Cleanup leaves the group, also when
// Provision fails.
func (h *Handler) joinHubGroup(events *caddyevents.App) error {
	groupsMu.Lock()
	defer groupsMu.Unlock()
	key := groupKey{events, h.Hub}
	g := groups[key]
	if g == nil {
		g = &hubGroup{key: key, set: make(map[string]explicitValue)}
		// Surviving hubs take the new settings, and new hubs start
		// reading their log, once the config has started: a config that
		// fails to load, or is only validated, changes nothing live.
		if err := events.On("started", groupListener{g}); err != nil {
			return fmt.Errorf("hub %q: %v", h.Hub, err)
		}
		groups[key] = g
	}
	mine := make(map[string]explicitValue)
	for _, opt := range hubOptions {
		field := opt.field(h)
		if field.IsZero() {
			continue
		}
		v, err := explicit(opt.name, field.Interface(), h.where(len(g.handlers)))
		if err != nil {
			return err
		}
		if prev, ok := g.set[opt.name]; ok && prev.canonical != v.canonical {
			return fmt.Errorf("hub %q: handlers disagree on %s: %s at %s, %s at %s; set it on one handler, or to the same value",
				h.Hub, opt.name, prev.shown, prev.where, v.shown, v.where)
		}
		mine[opt.name] = v
	}
	h.group = g
	g.handlers = append(g.handlers, h)
	for _, opt := range hubOptions {
		if v, ok := g.set[opt.name]; ok {
			if err := json.Unmarshal([]byte(v.canonical), opt.field(h).Addr().Interface()); err != nil {
				return fmt.Errorf("hub %q: %s: %v", h.Hub, opt.name, err)
			}
			continue
		}
		v, ok := mine[opt.name]
		if !ok {
			continue
		}
		g.set[opt.name] = v
		for _, other := range g.handlers[:len(g.handlers)-1] {
			if err := json.Unmarshal([]byte(v.canonical), opt.field(other).Addr().Interface()); err != nil {
				return fmt.Errorf("hub %q: %s: %v", h.Hub, opt.name, err)
			}
		}
	}
	return nil
}

// leaveHubGroup removes h from its group; the last one out removes the
// group.
func (h *Handler) leaveHubGroup() {
	groupsMu.Lock()
	defer groupsMu.Unlock()
	g := h.group
	if g == nil {
		return
	}
	h.group = nil
	g.handlers = slices.DeleteFunc(g.handlers, func(o *Handler) bool { return o == h })
	if len(g.handlers) == 0 && groups[g.key] == g {
		delete(groups, g.key)
	}
}

// settings are the hub settings the group agreed on, defaults filled in.
func (g *hubGroup) settings() (s Handler) {
	for _, opt := range hubOptions {
		if v, ok := g.set[opt.name]; ok {
			_ = json.Unmarshal([]byte(v.canonical), opt.field(&s).Addr().Interface())
		}
	}
	s.setDefaults()
	return s
}

// explicit describes an option's value for comparing and for messages.
func explicit(name string, val any, where string) (explicitValue, error) {
	b, err := json.Marshal(val)
	if err != nil {
		return explicitValue{}, fmt.Errorf("%s: %v", name, err)
	}
	// Through a map and back, keys come out sorted: two transports that
	// differ only in key order are the same transport.
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return explicitValue{}, fmt.Errorf("%s: %v", name, err)
	}
	canonical, _ := json.Marshal(generic)
	return explicitValue{canonical: string(canonical), shown: showValue(val, generic), where: where}, nil
}

// showValue writes a value as an operator would in the Caddyfile.
func showValue(val, generic any) string {
	switch v := val.(type) {
	case *int:
		return strconv.Itoa(*v)
	case caddy.Duration:
		return time.Duration(v).String()
	case int64:
		return humanize.IBytes(uint64(v))
	case json.RawMessage:
		return showTransport(generic)
	case []*webhook.Config:
		return showWebhooks(v)
	}
	return fmt.Sprint(val)
}

// showWebhooks writes webhooks by their URLs and event types: two lists
// that differ only in a secret are told apart without showing it.
func showWebhooks(hooks []*webhook.Config) string {
	parts := make([]string, 0, len(hooks))
	for _, w := range hooks {
		if w == nil {
			continue
		}
		part := w.URL
		if len(w.Events) > 0 {
			part += " (" + strings.Join(w.Events, " ") + ")"
		}
		parts = append(parts, part)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

var userinfoRE = regexp.MustCompile(`://[^/@]*@`)

// showTransport writes a transport as "name url key=value…", with the
// user name and password left out: errors never carry a secret.
func showTransport(generic any) string {
	m, _ := generic.(map[string]any)
	var parts []string
	for _, k := range []string{"name", "url"} {
		if s, ok := m[k].(string); ok {
			parts = append(parts, userinfoRE.ReplaceAllString(s, "://"))
		}
	}
	var rest []string
	for k, v := range m {
		switch k {
		case "name", "url", "username", "password":
		default:
			rest = append(rest, fmt.Sprintf("%s=%v", k, v))
		}
	}
	slices.Sort(rest)
	return strings.Join(append(parts, rest...), " ")
}

// where names the handler in messages: its Source (file:line, from the
// Caddyfile adapter), or for a JSON handler without one, its place among
// the handlers of its hub.
func (h *Handler) where(index int) string {
	if h.Source != "" {
		return h.Source
	}
	return fmt.Sprintf(`sse handler #%d of hub %q in load order (set "source" on a JSON handler to name it here)`, index+1, h.Hub)
}

// groupListener applies the group's settings to its hub, and starts the
// log of a hub this config created, once the config has started.
type groupListener struct{ g *hubGroup }

// Handle implements caddyevents.Handler.
func (l groupListener) Handle(context.Context, caddy.Event) error {
	groupsMu.Lock()
	ph, created := l.g.ph, l.g.created
	settings := l.g.settings()
	groupsMu.Unlock()
	if ph == nil {
		return nil
	}
	if created {
		ph.Log().Start()
	}
	ph.Apply(settings.hubSettings())
	return nil
}
