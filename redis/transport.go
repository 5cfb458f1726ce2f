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

package redis

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/cfgargs"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Transport{})
}

// Defaults of the Redis transport.
const (
	defaultPrefix            = "sse:"
	defaultDialTimeout       = time.Second
	defaultIOTimeout         = time.Second
	defaultPublishTimeout    = 2 * time.Second
	defaultMaxInFlight       = 1024
	defaultIdempotencyWindow = 10 * time.Minute
)

// Transport stores a hub's events in a Redis stream shared by every
// Caddy instance configured with the same hub name, URL and key prefix:
// a publish on any instance reaches the subscribers of all, in one order,
// ids come from Redis, and history survives restarts. Each instance reads
// the stream continuously and fans out to its own subscribers.
type Transport struct {
	// URL of the Redis server: redis://[user:password@]host:port[/db],
	// rediss:// for TLS, or unix:///path. Placeholders such as {env.X}
	// are replaced at provision. Required.
	URL string `json:"url,omitempty"`

	// KeyPrefix starts every key the hub uses; the stream is
	// <prefix>{<hub>}:stream, the key of its ids <prefix>{<hub>}:idkey.
	// Default: "sse:".
	KeyPrefix string `json:"key_prefix,omitempty"`

	// Username overrides the URL's user name; {env.X} is replaced.
	// Default: the URL's.
	Username string `json:"username,omitempty"`

	// Password overrides the URL's password; {env.X} is replaced.
	// Default: the URL's.
	Password string `json:"password,omitempty"`

	// PoolSize bounds the connections to Redis. Default: go-redis's
	// (10 per CPU).
	PoolSize int `json:"pool_size,omitempty"`

	// DialTimeout bounds each connection attempt. Default: 1s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`

	// ReadTimeout bounds the wait for each reply (a blocking read of the
	// stream waits this much longer than its block time). Default: 1s.
	ReadTimeout caddy.Duration `json:"read_timeout,omitempty"`

	// WriteTimeout bounds the writing of each command. Default: 1s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`

	// PublishTimeout bounds a publish from its start to Redis's reply; a
	// publish that misses it gets a 503. Default: 2s.
	PublishTimeout caddy.Duration `json:"publish_timeout,omitempty"`

	// MaxInFlight bounds the publishes waiting for Redis on this instance;
	// past it a publish gets a 503 at once. Default: 1024.
	MaxInFlight int `json:"max_in_flight,omitempty"`

	// IdempotencyWindow is how long Redis remembers an Idempotency-Key.
	// Default: 10m.
	IdempotencyWindow caddy.Duration `json:"idempotency_window,omitempty"`

	opts *goredis.Options
}

// CaddyModule returns the Caddy module information.
func (Transport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sse.transports.redis",
		New: func() caddy.Module { return new(Transport) },
	}
}

// UnmarshalCaddyfile reads the transport's line and block:
//
//	transport redis <url> {
//		key_prefix         <prefix>
//		username           <user>
//		password           <password>
//		pool_size          <n>
//		dial_timeout       <duration>
//		read_timeout       <duration>
//		write_timeout      <duration>
//		publish_timeout    <duration>
//		max_in_flight      <n>
//		idempotency_window <duration>
//	}
func (t *Transport) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the transport's name
	args := d.RemainingArgs()
	if len(args) != 1 {
		return d.Err("transport redis: want one URL, such as redis://127.0.0.1:6379")
	}
	t.URL = args[0]
	// A URL without placeholders is checked here, so that a mistake
	// points at its line; one with placeholders is checked at Provision.
	if !strings.Contains(t.URL, "{") {
		if _, err := goredis.ParseURL(t.URL); err != nil {
			return d.Errf("transport redis: bad URL: %s", redactURLError(err, t.URL))
		}
	}
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("transport redis: duplicate option %q", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "key_prefix":
			t.KeyPrefix, err = cfgargs.One(d)
		case "username":
			t.Username, err = cfgargs.One(d)
		case "password":
			t.Password, err = cfgargs.One(d)
		case "pool_size":
			t.PoolSize, err = cfgargs.Int(d)
		case "dial_timeout":
			t.DialTimeout, err = cfgargs.Duration(d)
		case "read_timeout":
			t.ReadTimeout, err = cfgargs.Duration(d)
		case "write_timeout":
			t.WriteTimeout, err = cfgargs.Duration(d)
		case "publish_timeout":
			t.PublishTimeout, err = cfgargs.Duration(d)
		case "max_in_flight":
			t.MaxInFlight, err = cfgargs.Int(d)
		case "idempotency_window":
			t.IdempotencyWindow, err = cfgargs.Duration(d)
		default:
			return d.Errf("unknown transport redis option %q", opt)
		}
		if err != nil {
			return err
		}
		if err := cfgargs.NoBlock(d, fmt.Sprintf("transport redis option %q", opt)); err != nil {
			return err
		}
	}
	return nil
}

// Provision resolves placeholders and checks the options. It does not
// dial: a config validates and loads while Redis is down.
func (t *Transport) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	url := repl.ReplaceKnown(t.URL, "")
	if url == "" {
		return errors.New("redis transport: a URL is required")
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("redis transport: bad URL: %v", redactURLError(err, url))
	}
	if t.Username != "" {
		opts.Username = repl.ReplaceKnown(t.Username, "")
	}
	if t.Password != "" {
		opts.Password = repl.ReplaceKnown(t.Password, "")
	}
	if t.KeyPrefix == "" {
		t.KeyPrefix = defaultPrefix
	}
	if len(t.KeyPrefix) > 128 || strings.ContainsFunc(t.KeyPrefix, func(c rune) bool { return c <= ' ' || c > '~' || c == '{' || c == '}' }) {
		return errors.New("redis transport: key_prefix must be at most 128 printable ASCII characters without spaces or braces")
	}
	for name, v := range map[string]int64{"pool_size": int64(t.PoolSize), "dial_timeout": int64(t.DialTimeout),
		"read_timeout": int64(t.ReadTimeout), "write_timeout": int64(t.WriteTimeout),
		"publish_timeout": int64(t.PublishTimeout), "max_in_flight": int64(t.MaxInFlight),
		"idempotency_window": int64(t.IdempotencyWindow)} {
		if v < 0 {
			return fmt.Errorf("redis transport: %s must not be negative", name)
		}
	}
	opts.DialTimeout = durationOr(t.DialTimeout, defaultDialTimeout)
	opts.ReadTimeout = durationOr(t.ReadTimeout, defaultIOTimeout)
	opts.WriteTimeout = durationOr(t.WriteTimeout, defaultIOTimeout)
	if t.PoolSize > 0 {
		opts.PoolSize = t.PoolSize
	}
	opts.DialerRetries = 1            // the reader backs off by itself; a publish must fail fast
	opts.ContextTimeoutEnabled = true // publish_timeout bounds the whole exchange
	opts.MaxRetries = -1              // a retried XADD could store an event twice
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	t.opts = opts
	return nil
}

// redactURLError keeps a password in the URL out of an error message.
func redactURLError(err error, url string) string {
	msg := err.Error()
	if i := strings.Index(url, "://"); i >= 0 {
		if at := strings.LastIndex(url, "@"); at > i {
			msg = strings.ReplaceAll(msg, url[i+3:at], "xxxxx")
		}
	}
	return msg
}

func durationOr(d caddy.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
}

// Identity names the stream: hubs with the same name and identity share
// one pool entry, and so one client and one reader, across reloads.
func (t *Transport) Identity() string {
	b, _ := json.Marshal(struct {
		Addr, User, Pass, Prefix string
		DB                       int
		TLS                      bool
		Opts                     Transport
	}{t.opts.Addr, t.opts.Username, t.opts.Password, t.KeyPrefix, t.opts.DB, t.opts.TLSConfig != nil, *t})
	return "redis " + string(b)
}

// NewLog returns the log of a hub named name in the stream
// <prefix>{<name>}:stream. It does not dial.
func (t *Transport) NewLog(name string, logger *zap.Logger) hub.Log {
	inFlight := t.MaxInFlight
	if inFlight == 0 {
		inFlight = defaultMaxInFlight
	}
	opts := *t.opts
	opts.ClientName = "caddy-sse:" + name // shows in CLIENT LIST
	key := t.KeyPrefix + "{" + name + "}:"
	return newLog(logConfig{
		hub:            name,
		opts:           &opts,
		logger:         logger,
		stream:         key + "stream",
		idKey:          key + "idkey",
		idemPrefix:     key + "idem:",
		publishTimeout: durationOr(t.PublishTimeout, defaultPublishTimeout),
		idemWindow:     durationOr(t.IdempotencyWindow, defaultIdempotencyWindow),
		maxInFlight:    inFlight,
		prefix:         t.KeyPrefix,
	})
}

// Interface guards
var (
	_ caddy.Provisioner     = (*Transport)(nil)
	_ caddyfile.Unmarshaler = (*Transport)(nil)
)
