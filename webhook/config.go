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

package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/cfgargs"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

// MinSecret is the fewest bytes a secret may have (after whsec_ decoding).
const MinSecret = 24

// Config is one webhook of a hub: where its events go, signed with what,
// and which. It is a hub option; a hub may have one per URL.
type Config struct {
	// URL receives the events: an absolute http or https URL without
	// user information. {env.*} placeholders are resolved at provision;
	// nothing from a request ever shapes it. Required.
	URL string `json:"url,omitempty"`

	// Secret keys the HMAC-SHA256 signature of each request. A secret of
	// the form whsec_<base64> is decoded, as Standard Webhooks libraries
	// do; any other is used as its bytes. At least 24 bytes; {env.*}
	// placeholders are resolved at provision. Required.
	Secret string `json:"secret,omitempty"`

	// Events lists the types to send: occupied, vacated, join, leave
	// (these two need presence on the hub), connect, disconnect.
	// Default: occupied vacated.
	Events []string `json:"events,omitempty"`

	// Timeout bounds one attempt, from dialing to the end of the
	// response. Default: 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Queue bounds the events waiting to be sent; when it is full, the
	// oldest is dropped and counted. Default: 10000.
	Queue int `json:"queue,omitempty"`

	// presenceErr, set by the Caddyfile parser, is the error with the
	// file:line of events naming join or leave, for CheckPresence.
	presenceErr error
}

// UnmarshalCaddyfile reads a webhook option of the sse directive, with
// the dispenser on its name. Syntax:
//
//	webhook <url> {
//		secret  <secret>
//		events  <type>...
//		timeout <duration>
//		queue   <n>
//	}
//
// Errors carry the file and line of the token at fault. Checks that need
// placeholders resolved wait for Options.
func UnmarshalCaddyfile(d *caddyfile.Dispenser) (*Config, error) {
	c := new(Config)
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	c.URL = d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	if !strings.Contains(c.URL, "{") {
		if err := checkURL(c.URL); err != nil {
			return nil, d.Errf("webhook: %v", err)
		}
	}
	noSecret := d.Errf("webhook %s: secret is required", c.URL)
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return nil, d.Errf("webhook: duplicate option %q", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "secret":
			if c.Secret, err = cfgargs.One(d); err == nil && !strings.Contains(c.Secret, "{") {
				if _, serr := decodeSecret(c.Secret); serr != nil {
					err = d.Errf("webhook: %v", serr)
				}
			}
		case "events":
			if c.Events, err = cfgargs.List(d); err == nil {
				err = c.checkEvents()
				if err != nil {
					err = d.Errf("webhook: %v", err)
				} else if c.needsPresence() {
					c.presenceErr = d.Errf("webhook: events join and leave need presence on the hub")
				}
			}
		case "timeout":
			if c.Timeout, err = cfgargs.Duration(d); err == nil && c.Timeout == 0 {
				err = d.Errf("webhook: timeout must be more than 0 (leave it out for the default)")
			}
		case "queue":
			if c.Queue, err = cfgargs.Int(d); err == nil && c.Queue == 0 {
				err = d.Errf("webhook: queue must be more than 0 (leave it out for the default)")
			}
		default:
			return nil, d.Errf("unknown webhook option %q", opt)
		}
		if err != nil {
			return nil, err
		}
		if err := cfgargs.NoBlock(d, fmt.Sprintf("webhook option %q", opt)); err != nil {
			return nil, err
		}
	}
	if c.Secret == "" {
		return nil, noSecret
	}
	return c, nil
}

// CheckPresence fails when the webhook sends join or leave and the hub
// does not track presence. After UnmarshalCaddyfile, the error points at
// the events line.
func (c *Config) CheckPresence(presence bool) error {
	if presence || !c.needsPresence() {
		return nil
	}
	if c.presenceErr != nil {
		return c.presenceErr
	}
	return fmt.Errorf("webhook %s: events join and leave need presence on the hub", c.URL)
}

func (c *Config) needsPresence() bool {
	for _, name := range c.Events {
		if Type(name).NeedsPresence() {
			return true
		}
	}
	return false
}

func (c *Config) checkEvents() error {
	seen := make(map[string]bool)
	for _, name := range c.Events {
		if !Type(name).valid() {
			return fmt.Errorf("unknown event type %q; want occupied, vacated, join, leave, connect or disconnect", name)
		}
		if seen[name] {
			return fmt.Errorf("event type %q given twice", name)
		}
		seen[name] = true
	}
	return nil
}

// Options resolves {env.*} placeholders in the URL and secret, checks
// every value and returns the Sender's options with defaults filled in.
// presence tells whether the hub tracks presence. Errors never carry the
// secret.
func (c *Config) Options(hubName string, presence bool, logger *zap.Logger) (Options, error) {
	repl := caddy.NewReplacer() // env and system values only: never a request's
	rawURL := repl.ReplaceKnown(c.URL, "")
	if err := checkURL(rawURL); err != nil {
		return Options{}, fmt.Errorf("webhook: %v", err)
	}
	if c.Secret == "" {
		return Options{}, fmt.Errorf("webhook %s: secret is required", rawURL)
	}
	secret, err := decodeSecret(repl.ReplaceKnown(c.Secret, ""))
	if err != nil {
		return Options{}, fmt.Errorf("webhook %s: %v", rawURL, err)
	}
	if err := c.checkEvents(); err != nil {
		return Options{}, fmt.Errorf("webhook %s: %v", rawURL, err)
	}
	if err := c.CheckPresence(presence); err != nil {
		return Options{}, err
	}
	if c.Timeout < 0 || c.Queue < 0 {
		return Options{}, fmt.Errorf("webhook %s: timeout and queue must not be negative", rawURL)
	}
	types := DefaultTypes
	if len(c.Events) > 0 {
		types = make([]Type, len(c.Events))
		for i, name := range c.Events {
			types[i] = Type(name)
		}
	}
	timeout := time.Duration(c.Timeout)
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	queue := c.Queue
	if queue == 0 {
		queue = DefaultQueue
	}
	return Options{Hub: hubName, URL: rawURL, Secret: secret, Types: types, Timeout: timeout, Queue: queue, Logger: logger}, nil
}

// checkURL accepts an absolute http or https URL with a host and no user
// information (which would put a credential in configs and logs).
func checkURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return errors.New("url is not a valid URL") // not echoed: it might hold a password
	case u.User != nil:
		return errors.New("url must not carry user information; the secret signs each request")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q: want an absolute http:// or https:// URL", rawURL)
	case u.Host == "":
		return fmt.Errorf("url %q has no host", rawURL)
	}
	return nil
}

// decodeSecret returns the key of a secret: whsec_<base64> decoded, as
// Standard Webhooks libraries do, anything else as its bytes.
func decodeSecret(secret string) ([]byte, error) {
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		var err error
		if key, err = base64.StdEncoding.DecodeString(rest); err != nil {
			return nil, errors.New("secret starts with whsec_ but the rest is not standard base64")
		}
	}
	if len(key) < MinSecret {
		return nil, fmt.Errorf("secret is %d bytes; want at least %d", len(key), MinSecret)
	}
	return key, nil
}
