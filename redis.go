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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults of the Redis transport.
const (
	defaultRedisPrefix         = "sse:"
	defaultRedisDialTimeout    = time.Second
	defaultRedisIOTimeout      = time.Second
	defaultRedisPublishTimeout = 2 * time.Second
	defaultRedisMaxInFlight    = 1024
	defaultIdempotencyWindow   = 10 * time.Minute
	// redisStreamMin is the least the stream keeps, whatever history says:
	// readers on other instances need the slack to catch up.
	redisStreamMin = 10000
	// redisReadBatch is how many entries one read takes.
	redisReadBatch  = 1000
	redisBlock      = time.Second
	redisMinBackoff = 50 * time.Millisecond
	redisMaxBackoff = 2 * time.Second
	// redisIDEstimate is the id length max_event_size counts for an event
	// stored in Redis, whose id is known only once stored: 13 digits of
	// milliseconds, a dash and 5 digits of sequence.
	redisIDEstimate = 19
	// redisIDLineLen is the size of the id: line of such an id; see idLineLen.
	redisIDLineLen = redisIDEstimate + 5
)

// RedisTransport stores a hub's events in a Redis stream shared by every
// Caddy instance configured with the same hub name, URL and key prefix:
// a publish on any instance reaches the subscribers of all, in one order,
// ids come from Redis, and history survives restarts. Each instance reads
// the stream continuously and fans out to its own subscribers.
type RedisTransport struct {
	// URL of the Redis server: redis://[user:password@]host:port[/db],
	// rediss:// for TLS, or unix:///path. Placeholders such as {env.X}
	// are replaced at provision. Required.
	URL string `json:"url,omitempty"`

	// KeyPrefix starts every key the hub uses; the stream is
	// <prefix>{<hub>}:stream. Default: "sse:".
	KeyPrefix string `json:"key_prefix,omitempty"`

	// Username and Password override those of the URL; {env.X} is replaced.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`

	// PoolSize bounds the connections to Redis. Default: go-redis's
	// (10 per CPU).
	PoolSize int `json:"pool_size,omitempty"`

	// DialTimeout, ReadTimeout and WriteTimeout bound each connection
	// attempt, reply and command write. Default: 1s each.
	DialTimeout  caddy.Duration `json:"dial_timeout,omitempty"`
	ReadTimeout  caddy.Duration `json:"read_timeout,omitempty"`
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

	opts *redis.Options
}

// CaddyModule returns the Caddy module information.
func (RedisTransport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sse.transports.redis",
		New: func() caddy.Module { return new(RedisTransport) },
	}
}

// Provision resolves placeholders and checks the options. It does not
// dial: a config validates and loads while Redis is down.
func (t *RedisTransport) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	url := repl.ReplaceKnown(t.URL, "")
	if url == "" {
		return errors.New("redis transport: a URL is required")
	}
	opts, err := redis.ParseURL(url)
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
		t.KeyPrefix = defaultRedisPrefix
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
	opts.DialTimeout = durationOr(t.DialTimeout, defaultRedisDialTimeout)
	opts.ReadTimeout = durationOr(t.ReadTimeout, defaultRedisIOTimeout)
	opts.WriteTimeout = durationOr(t.WriteTimeout, defaultRedisIOTimeout)
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

// identity names the stream: hubs with the same name and identity share
// one pool entry, and so one client and one reader, across reloads.
func (t *RedisTransport) identity() string {
	b, _ := json.Marshal(struct {
		Addr, User, Pass, Prefix string
		DB                       int
		TLS                      bool
		Opts                     RedisTransport
	}{t.opts.Addr, t.opts.Username, t.opts.Password, t.KeyPrefix, t.opts.DB, t.opts.TLSConfig != nil, *t})
	return "redis " + string(b)
}

func (t *RedisTransport) newHubTransport(h *Hub, logger *zap.Logger) hubTransport {
	ctx, cancel := context.WithCancel(context.Background())
	inFlight := t.MaxInFlight
	if inFlight == 0 {
		inFlight = defaultRedisMaxInFlight
	}
	opts := *t.opts
	opts.ClientName = "caddy-sse:" + h.Name() // shows in CLIENT LIST
	key := t.KeyPrefix + "{" + h.Name() + "}:"
	return &redisHub{
		hub:            h,
		client:         redis.NewClient(&opts),
		logger:         logger,
		stream:         key + "stream",
		idemPrefix:     key + "idem:",
		publishTimeout: durationOr(t.PublishTimeout, defaultRedisPublishTimeout),
		idemWindow:     durationOr(t.IdempotencyWindow, defaultIdempotencyWindow),
		sem:            make(chan struct{}, inFlight),
		ctx:            ctx,
		cancel:         cancel,
	}
}

// redisHub is one hub's connection to its Redis stream: a client, shared
// by publishes and the reader, and the reader goroutine.
type redisHub struct {
	hub            *Hub
	client         *redis.Client
	logger         *zap.Logger
	stream         string
	idemPrefix     string
	publishTimeout time.Duration
	idemWindow     time.Duration
	sem            chan struct{} // publishes in flight

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	started   bool
	closed    bool
	connected bool
	lastErr   string
	lastID    string
	lag       time.Duration
}

// publishScript stores a publish atomically: an Idempotency-Key seen
// before returns its ids; otherwise every event is added, the stream
// trimmed to its length and age, and the key remembered.
//
// KEYS: stream, idempotency key. ARGV: use key (0/1), max length, min id
// ("" for none), key lifetime in ms, event count, then topics and body
// of each event.
var publishScript = redis.NewScript(`
if ARGV[1] == '1' then
	local ids = redis.call('GET', KEYS[2])
	if ids then return {1, ids} end
end
local n = tonumber(ARGV[5])
local ids = {}
for i = 1, n do
	ids[i] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 't', ARGV[4 + 2 * i], 'b', ARGV[5 + 2 * i])
end
if ARGV[3] ~= '' then
	redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3])
end
local joined = table.concat(ids, ' ')
if ARGV[1] == '1' then
	redis.call('SET', KEYS[2], joined, 'PX', ARGV[4])
end
return {0, joined}
`)

func (r *redisHub) publish(ctx context.Context, events []*Event, idemKey string, maxSize int) ([]string, error) {
	select {
	case r.sem <- struct{}{}:
		defer func() { <-r.sem }()
	default:
		return nil, fmt.Errorf("%w: too many publishes waiting for Redis", errUnavailable)
	}
	settings := r.hub.Settings()
	args := make([]any, 5, 5+2*len(events))
	args[0], args[1], args[2], args[3], args[4] = "0", max(settings.History, redisStreamMin), "",
		r.idemWindow.Milliseconds(), len(events)
	if idemKey != "" {
		args[0] = "1"
	}
	if settings.HistoryAge > 0 {
		args[2] = strconv.FormatInt(time.Now().Add(-settings.HistoryAge).UnixMilli(), 10)
	}
	for _, e := range events {
		body := e.encodeBody()
		if maxSize > 0 && redisIDLineLen+len(body) > maxSize {
			return nil, ErrEventTooLarge
		}
		args = append(args, strings.Join(e.Topics, " "), body)
	}
	ctx, cancel := context.WithTimeout(ctx, r.publishTimeout)
	defer cancel()
	res, err := publishScript.Run(ctx, r.client, []string{r.stream, r.idemPrefix + idemKey}, args...).Slice()
	if err != nil {
		r.failed(err)
		return nil, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	joined, _ := res[1].(string)
	if len(res) != 2 || joined == "" {
		return nil, fmt.Errorf("%w: unexpected reply from Redis", errUnavailable)
	}
	return strings.Split(joined, " "), nil
}

func (r *redisHub) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	r.wg.Add(1)
	go r.read()
}

func (r *redisHub) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.client.Close() // ends a blocked read at once
	r.wg.Wait()
}

func (r *redisHub) status() *TransportStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &TransportStatus{Name: "redis", Connected: r.connected, LastError: r.lastErr,
		LastID: r.lastID, LagMillis: r.lag.Milliseconds(), InFlight: len(r.sem)}
}

func (r *redisHub) failed(err error) {
	if r.ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.connected || r.lastErr == "" {
		r.logger.Warn("redis unreachable", zap.String("hub", r.hub.Name()), zap.Error(err))
	}
	r.connected, r.lastErr = false, err.Error()
}

func (r *redisHub) succeeded(last streamID, lag time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.connected && r.lastErr != "" {
		r.logger.Info("redis reachable again", zap.String("hub", r.hub.Name()))
	}
	r.connected, r.lastErr, r.lastID, r.lag = true, "", last.String(), lag
}

// read follows the stream from the newest id it has seen, never from
// "now": after an outage it catches up on everything Redis kept.
func (r *redisHub) read() {
	defer r.wg.Done()
	var last streamID
	loaded, check := false, false
	backoff := redisMinBackoff
	for r.ctx.Err() == nil {
		var err error
		switch {
		case !loaded:
			last, err = r.load(false)
			loaded = err == nil
		case check:
			// Back after an error: if Redis dropped events this reader had
			// not read, the mirror is rebuilt and subscribers resume.
			var gap bool
			if gap, err = r.lost(last, streamID{}); gap {
				last, err = r.load(true)
			}
			check = err != nil
		default:
			last, err = r.follow(last)
		}
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.failed(err)
			check = loaded
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, redisMaxBackoff)
			continue
		}
		backoff = redisMinBackoff
	}
}

// follow reads the entries after last and hands them to the hub.
func (r *redisHub) follow(last streamID) (streamID, error) {
	res, err := r.client.XRead(r.ctx, &redis.XReadArgs{Streams: []string{r.stream, last.String()},
		Count: redisReadBatch, Block: redisBlock}).Result()
	if errors.Is(err, redis.Nil) {
		r.succeeded(last, 0)
		return last, nil
	}
	if err != nil || len(res) == 0 {
		return last, err
	}
	events := r.decode(res[0].Messages)
	if len(events) == 0 {
		return last, nil
	}
	if len(res[0].Messages) == redisReadBatch {
		// A full batch: this reader is behind, and the stream may have
		// been trimmed past what it had read.
		if gap, err := r.lost(last, events[0].sid); err != nil {
			return last, err
		} else if gap {
			return r.load(true)
		}
	}
	r.hub.ingest(events)
	newest := events[len(events)-1]
	r.succeeded(newest.sid, time.Since(newest.Time))
	return newest.sid, nil
}

// lost tells whether Redis has deleted an entry after last that this
// reader never read (one before next, when next is known).
func (r *redisHub) lost(last, next streamID) (bool, error) {
	info, err := r.client.XInfoStream(r.ctx, r.stream).Result()
	if isNoSuchKey(err) {
		return false, nil // nothing kept: nothing to catch up on
	}
	if err != nil {
		return false, err
	}
	deleted, ok := parseStreamID(info.MaxDeletedEntryID)
	if !ok || !last.less(deleted) {
		return false, nil
	}
	return next == (streamID{}) || deleted.less(next), nil
}

// load fills the hub's history with the newest entries of the stream and
// returns the id to follow from.
func (r *redisHub) load(gap bool) (streamID, error) {
	var base streamID
	info, err := r.client.XInfoStream(r.ctx, r.stream).Result()
	switch {
	case isNoSuchKey(err):
		r.hub.load(nil, base, gap)
		r.succeeded(base, 0)
		return base, nil
	case err != nil:
		return base, err
	}
	n := r.hub.Settings().History
	msgs, err := r.client.XRevRangeN(r.ctx, r.stream, "+", "-", int64(n+1)).Result()
	if err != nil {
		return base, err
	}
	if len(msgs) == n+1 {
		base, _ = parseStreamID(msgs[n].ID)
		msgs = msgs[:n]
	} else if id, ok := parseStreamID(info.MaxDeletedEntryID); ok {
		base = id
	}
	slicesReverse(msgs)
	events := r.decode(msgs)
	r.hub.load(events, base, gap)
	last := base
	if len(events) > 0 {
		last = events[len(events)-1].sid
	}
	if id, ok := parseStreamID(info.LastGeneratedID); ok && last.less(id) && len(events) == 0 {
		last = id
	}
	r.succeeded(last, 0)
	return last, nil
}

func slicesReverse(msgs []redis.XMessage) {
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// decode turns stream entries into events; an entry this plugin did not
// write is skipped.
func (r *redisHub) decode(msgs []redis.XMessage) []*Event {
	events := make([]*Event, 0, len(msgs))
	for _, m := range msgs {
		sid, ok := parseStreamID(m.ID)
		topics, _ := m.Values["t"].(string)
		body, _ := m.Values["b"].(string)
		if !ok || topics == "" || body == "" {
			r.logger.Warn("skipping a stream entry not written by this plugin",
				zap.String("hub", r.hub.Name()), zap.String("id", m.ID))
			continue
		}
		e := &Event{ID: m.ID, sid: sid, Topics: strings.Fields(topics), Time: time.UnixMilli(int64(sid.ms))}
		e.wire = appendIDLine(make([]byte, 0, idLineLen(m.ID)+len(body)), m.ID, []byte(body))
		events = append(events, e)
	}
	return events
}

func init() {
	// go-redis logs dial failures and such to stderr by default; they go
	// to Caddy's log instead, at debug: the reader reports outages itself.
	redis.SetLogger(redisLogger{})
}

type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	if c := caddy.Log().Named("sse.redis").Check(zapcore.DebugLevel, ""); c != nil {
		c.Message = fmt.Sprintf(format, v...)
		c.Write()
	}
}

// Interface guards
var (
	_ caddy.Provisioner = (*RedisTransport)(nil)
	_ Transport         = (*RedisTransport)(nil)
	_ Transport         = MemoryTransport{}
)
