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
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-sse/caddy-sse/mercure"
)

// MercureConfig makes a route speak the Mercure 0.x protocol (SPEC §14).
type MercureConfig struct {
	// PublisherJWT verifies publishers' tokens (claim mercure.publish).
	// Without it, nobody can publish on the route, as in Mercure.
	PublisherJWT *MercureKey `json:"publisher_jwt,omitempty"`
	// SubscriberJWT verifies subscribers' tokens (claim
	// mercure.subscribe). Default: none (only anonymous subscribers,
	// when Anonymous is set).
	SubscriberJWT *MercureKey `json:"subscriber_jwt,omitempty"`
	// Anonymous lets subscribers without a token receive public updates.
	Anonymous bool `json:"anonymous,omitempty"`
}

// MercureKey is a JWT key and its algorithm.
type MercureKey struct {
	// Key is the shared secret (HS256…) or the PEM public key (RS256…,
	// ES256…); placeholders such as {env.MERCURE_JWT_SECRET} are replaced
	// when the config loads.
	Key string `json:"key"`
	// Alg is the one signing algorithm accepted. Default: HS256.
	Alg string `json:"alg,omitempty"`
}

// mercureRoute is what a Mercure route needs per request.
type mercureRoute struct {
	publisher  *mercure.Verifier // nil: publishing is refused
	subscriber *mercure.Verifier // nil: subscriber tokens are refused
	anonymous  bool
}

// mercureCookie and mercureQuery are where Mercure clients put tokens
// that cannot go in an Authorization header.
const (
	mercureCookie = "mercureAuthorization"
	mercureQuery  = "authorization"
)

// provisionMercure builds the verifiers of a Mercure route.
func (h *Handler) provisionMercure() error {
	if h.Mercure == nil {
		return nil
	}
	if h.JWT != nil || len(h.SubscribeAllow) > 0 || len(h.PublishAllow) > 0 || len(h.Topics) > 0 || h.UI {
		return errors.New("a mercure route authorizes with publisher_jwt, subscriber_jwt and anonymous; jwt, subscribe_allow, publish_allow, topics and ui do not apply to it")
	}
	var tr struct {
		Name string `json:"name"`
	}
	if len(h.TransportRaw) > 0 {
		if err := json.Unmarshal(h.TransportRaw, &tr); err != nil {
			return err
		}
	}
	if tr.Name != "" && tr.Name != "memory" {
		// A shared log does not carry the private flag yet: another
		// instance would hand private updates to anyone.
		return fmt.Errorf("mercure works with the memory transport only, for now; not %q", tr.Name)
	}
	repl := caddy.NewReplacer()
	build := func(name string, k *MercureKey) (*mercure.Verifier, error) {
		if k == nil {
			return nil, nil
		}
		v, err := mercure.NewVerifier(repl.ReplaceKnown(k.Key, ""), k.Alg)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		return v, nil
	}
	m := &mercureRoute{anonymous: h.Mercure.Anonymous}
	var err error
	if m.publisher, err = build("publisher_jwt", h.Mercure.PublisherJWT); err != nil {
		return err
	}
	if m.subscriber, err = build("subscriber_jwt", h.Mercure.SubscriberJWT); err != nil {
		return err
	}
	h.mercure = m
	return nil
}

// parseMercureOption reads mercure, publisher_jwt <key> [<alg>],
// subscriber_jwt <key> [<alg>] and anonymous.
func parseMercureOption(d *caddyfile.Dispenser, opt string, h *Handler) error {
	if h.Mercure == nil {
		h.Mercure = new(MercureConfig)
	}
	switch opt {
	case "mercure", "anonymous":
		if d.NextArg() {
			return d.ArgErr()
		}
		if opt == "anonymous" {
			h.Mercure.Anonymous = true
		}
		return nil
	}
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return d.Errf("%s takes a key and, optionally, an algorithm", opt)
	}
	k := &MercureKey{Key: args[0]}
	if len(args) == 2 {
		k.Alg = args[1]
	}
	if opt == "publisher_jwt" {
		h.Mercure.PublisherJWT = k
	} else {
		h.Mercure.SubscriberJWT = k
	}
	return nil
}
