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
	"encoding/json"
	"fmt"
	"slices"

	"github.com/caddy-sse/caddy-sse/internal/cfgargs"
	"github.com/caddy-sse/caddy-sse/webhook"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func parseCaddyfile(helper httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h := new(Handler)
	// The directive's place travels in the JSON, for errors found once
	// the handlers of a config meet at provision.
	if helper.Next() {
		h.Source = fmt.Sprintf("%s:%d", helper.File(), helper.Line())
		helper.Prev()
	}
	err := h.UnmarshalCaddyfile(helper.Dispenser)
	return h, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	sse [<matcher>] {
//		hub             <name>
//		history         <count>
//		history_age     <duration>
//		history_size    <size>
//		max_subscribers <n>
//		max_per_client  <n>
//		heartbeat       <duration>|off
//		retry           <duration>
//		buffer          <count>
//		write_timeout   <duration>
//		max_topics      <n>
//		max_event_size  <size>
//		max_body_size   <size>
//		publish         on|off
//		subscribe_allow <selector-template>...
//		publish_allow   <selector-template>...
//		topics          <selector-template>...
//		jwt {
//			key      <secret>
//			key_file <pem-path>
//			alg      <algorithm>
//			jwks_url <url>
//			issuer   <iss>
//			audience <aud>
//			leeway   <duration>
//		}
//		token_query     <name>|off
//		token_cookie    <name>|off
//		cors_origins    <origin>...
//		transport memory | redis <url> { … }   # the transport parses its own block
//		ui
//		presence
//		presence_grace  <duration>
//		webhook <url> {            # repeatable, one per URL
//			secret  <secret>
//			events  <type>...
//			timeout <duration>
//			queue   <n>
//		}
//	}
//
// Sizes take units (64KiB, 1MB); durations take Caddy's units (500ms, 1d).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	hookURLs := make(map[string]bool)
	for d.NextBlock(0) {
		opt := d.Val()
		if opt == "webhook" {
			// Repeatable: one per URL.
			hook, err := webhook.UnmarshalCaddyfile(d)
			if err != nil {
				return err
			}
			if hookURLs[hook.URL] {
				return d.Errf("webhook %s is given twice; one per URL", hook.URL)
			}
			hookURLs[hook.URL] = true
			h.Webhooks = append(h.Webhooks, hook)
			continue
		}
		if seen[opt] {
			return d.Errf("duplicate option %q", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "hub":
			if h.Hub, err = oneArg(d); err == nil && !hubNameRE.MatchString(h.Hub) {
				err = d.Errf("hub name %q: want 1-64 characters of A-Za-z0-9._-", h.Hub)
			}
		case "history":
			var n int
			n, err = intArg(d)
			h.History = &n
		case "history_age":
			h.HistoryAge, err = durationArg(d)
		case "history_size":
			h.HistorySize, err = sizeArg(d)
		case "max_subscribers":
			h.MaxSubscribers, err = intArg(d)
		case "max_per_client":
			h.MaxPerClient, err = intArg(d)
		case "heartbeat":
			var val string
			if val, err = oneArg(d); err == nil {
				var dur caddy.Duration
				if val != "off" {
					dur, err = parseDuration(d, opt, val)
				}
				h.Heartbeat = &dur
			}
		case "retry":
			h.Retry, err = durationArg(d)
		case "buffer":
			h.Buffer, err = intArg(d)
		case "write_timeout":
			h.WriteTimeout, err = durationArg(d)
		case "max_topics":
			h.MaxTopics, err = intArg(d)
		case "max_event_size":
			h.MaxEventSize, err = sizeArg(d)
		case "max_body_size":
			h.MaxBodySize, err = sizeArg(d)
		case "publish":
			var val string
			if val, err = oneArg(d); err == nil {
				switch val {
				case "on":
					on := true
					h.Publish = &on
				case "off":
					off := false
					h.Publish = &off
				default:
					err = d.Errf("publish: want on or off, got %q", val)
				}
			}
		case "subscribe_allow":
			h.SubscribeAllow, err = templateList(d)
		case "publish_allow":
			h.PublishAllow, err = templateList(d)
		case "topics":
			h.Topics, err = templateList(d)
		case "jwt":
			if h.JWT, err = parseJWT(d); err != nil {
				return err
			}
			continue // the block is parsed
		case "transport":
			if h.TransportRaw, err = parseTransport(d); err != nil {
				return err
			}
			continue // the block is parsed
		case "token_query":
			h.TokenQuery, err = tokenNameArg(d)
		case "token_cookie":
			h.TokenCookie, err = tokenNameArg(d)
		case "cors_origins":
			if h.CORSOrigins, err = argList(d); err == nil {
				for _, origin := range h.CORSOrigins {
					if err = validateOrigin(origin); err != nil {
						err = d.Errf("%v", err)
						break
					}
				}
			}
		case "ui":
			if d.NextArg() {
				err = d.ArgErr()
			}
			h.UI = true
		case "presence":
			if d.NextArg() {
				err = d.ArgErr()
			}
			h.Presence = true
		case "presence_grace":
			h.PresenceGrace, err = durationArg(d)
		case "mercure", "publisher_jwt", "subscriber_jwt", "anonymous":
			err = parseMercureOption(d, opt, h)
		default:
			return d.Errf("unknown sse option %q", opt)
		}
		if err != nil {
			return err
		}
		if err := refuseZero(d, opt, h); err != nil {
			return err
		}
		if err := cfgargs.NoBlock(d, fmt.Sprintf("option %q", opt)); err != nil {
			return err
		}
	}
	if h.Mercure != nil && !seen["mercure"] {
		return d.Err("publisher_jwt, subscriber_jwt and anonymous are Mercure options: add mercure to the sse block")
	}
	// presence may come after a webhook that needs it.
	for _, hook := range h.Webhooks {
		if err := hook.CheckPresence(h.presenceOn()); err != nil {
			return err
		}
	}
	return nil
}

// parseJWT reads the jwt block.
func parseJWT(d *caddyfile.Dispenser) (*JWTConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	cfg := new(JWTConfig)
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return nil, d.Errf("jwt: duplicate option %q", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "key":
			cfg.Key, err = oneArg(d)
		case "key_file":
			cfg.KeyFile, err = oneArg(d)
		case "alg":
			if cfg.Alg, err = oneArg(d); err == nil && hmacMinLen[cfg.Alg] == 0 && !slices.Contains(asymmetricAlgs, cfg.Alg) {
				err = d.Errf("jwt: unknown alg %q", cfg.Alg)
			}
		case "jwks_url":
			cfg.JWKSURL, err = oneArg(d)
		case "issuer":
			cfg.Issuer, err = oneArg(d)
		case "audience":
			cfg.Audience, err = oneArg(d)
		case "leeway":
			cfg.Leeway, err = durationArg(d)
		default:
			return nil, d.Errf("unknown jwt option %q", opt)
		}
		if err != nil {
			return nil, err
		}
		if err := cfgargs.NoBlock(d, fmt.Sprintf("jwt option %q", opt)); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// parseTransport reads "transport <name> …": the module
// sse.transports.<name> parses its own arguments and block, as encode's
// encoders do, into the module's JSON.
func parseTransport(d *caddyfile.Dispenser) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	name := d.Val()
	if _, err := caddy.GetModule("sse.transports." + name); err != nil {
		return nil, d.Errf("transport: want memory or redis, got %q", name)
	}
	unm, err := caddyfile.UnmarshalModule(d, "sse.transports."+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(unm, "name", name, nil), nil
}

// refuseZero refuses a 0 given for an option where 0 would mean nothing
// sensible (no queue, no topics, no time to write, an immediate
// reconnect): in JSON, 0 is the same as leaving the option out and takes
// the default, so in a Caddyfile, where an option can simply be left out,
// an explicit 0 is a mistake to point at rather than silently replace.
func refuseZero(d *caddyfile.Dispenser, opt string, h *Handler) error {
	var zero bool
	switch opt {
	case "buffer":
		zero = h.Buffer == 0
	case "max_topics":
		zero = h.MaxTopics == 0
	case "write_timeout":
		zero = h.WriteTimeout == 0
	case "retry":
		zero = h.Retry == 0
	case "presence_grace":
		zero = h.PresenceGrace == 0
	}
	if zero {
		return d.Errf("%s must be more than 0 (leave it out for the default)", opt)
	}
	return nil
}

// Values are checked here as well as at Provision, so that a Caddyfile
// mistake points at its file and line; Provision checks JSON configs.

// templateList reads a list of selector templates (grants, topics).
func templateList(d *caddyfile.Dispenser) ([]string, error) {
	opt := d.Val()
	list, err := argList(d)
	if err != nil {
		return nil, err
	}
	for _, tpl := range list {
		if err := validateTemplate(tpl); err != nil {
			return nil, d.Errf("%s: grant %q: %v", opt, tpl, err)
		}
	}
	return list, nil
}

// tokenNameArg reads a token_query or token_cookie name.
func tokenNameArg(d *caddyfile.Dispenser) (string, error) {
	opt := d.Val()
	name, err := oneArg(d)
	if err == nil && !validTokenName(name) { // "off" is a valid name
		err = d.Errf("%s %q: want a name of letters, digits, '-', '_' and '.', or off", opt, name)
	}
	return name, err
}

// The argument readers are shared with the Redis transport's block.
var (
	oneArg        = cfgargs.One
	argList       = cfgargs.List
	intArg        = cfgargs.Int
	durationArg   = cfgargs.Duration
	parseDuration = cfgargs.ParseDuration
	sizeArg       = cfgargs.Size
)

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
