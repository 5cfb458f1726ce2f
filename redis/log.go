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
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Limits of the stream.
const (
	// streamMin is the least the stream keeps, whatever history says:
	// readers on other instances need the slack to catch up.
	streamMin = 10000
	// maxClockSkew is how far in the future a resume id may be before it
	// is taken for junk rather than an event another instance has just
	// stored.
	maxClockSkew = 10 * time.Second
)

// idLineLen is the size of an event's id: line: every id the log makes
// has hub.IDLen bytes, so max_event_size is checked before Redis assigns
// the id; an event with a publisher's id is checked with that id.
var idLineLen = hub.IDLineLen(strings.Repeat("0", hub.IDLen))

type logConfig struct {
	hub            string
	opts           *goredis.Options
	logger         *zap.Logger
	stream         string // the stream's key
	idKey          string // the key of the hub's id cipher
	idemPrefix     string // idempotency keys start with it
	publishTimeout time.Duration
	idemWindow     time.Duration
	maxInFlight    int
	prefix         string // the transport's key prefix
}

// streamLog is one hub's log in its Redis stream: a client, shared by
// publishes and the reader, and the reader goroutine.
type streamLog struct {
	logConfig
	client *goredis.Client
	sink   hub.Sink
	sem    chan struct{} // publishes in flight
	ids    atomic.Pointer[hub.IDCipher]

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	started   bool
	closed    bool
	connected bool
	lastErr   string
	lastID    string
	lag       time.Duration

	cluster *cluster // presence shared with the other instances
}

func newLog(cfg logConfig) *streamLog {
	ctx, cancel := context.WithCancel(context.Background())
	l := &streamLog{
		logConfig: cfg,
		client:    goredis.NewClient(cfg.opts),
		sem:       make(chan struct{}, cfg.maxInFlight),
		ctx:       ctx,
		cancel:    cancel,
	}
	l.client.AddHook(dialLogger{l})
	l.cluster = newCluster(l, cfg.prefix)
	return l
}

// dialLogger reports this client's failed dials to the hub's logger, at
// debug: the reader reports outages itself, at warn. go-redis's own
// logger is process-wide and left alone.
type dialLogger struct{ l *streamLog }

func (h dialLogger) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && h.l.ctx.Err() == nil {
			if ce := h.l.logger.Check(zap.DebugLevel, "redis dial failed"); ce != nil {
				ce.Write(zap.String("hub", h.l.hub), zap.String("addr", addr), zap.Error(err))
			}
		}
		return conn, err
	}
}

func (dialLogger) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }
func (dialLogger) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// Open implements hub.Log.
func (l *streamLog) Open(sink hub.Sink) { l.sink = sink }

// Start implements hub.Log: it starts the reader, once.
func (l *streamLog) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closed {
		return
	}
	l.started = true
	l.wg.Add(1)
	go l.read()
}

// Close implements hub.Log.
func (l *streamLog) Close() {
	l.cluster.goodbye()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.client.Close() // ends a blocked read at once
	l.wg.Wait()
}

// ParseID implements hub.Log: ids are entry ids under the hub's id
// cipher, whose key every instance reads from Redis; before this one
// has read it, no id is known.
func (l *streamLog) ParseID(id string) (hub.Position, bool) {
	ids := l.ids.Load()
	if ids == nil {
		return hub.Position{}, false
	}
	return ids.Position(id)
}

// FormatID implements hub.Log.
func (l *streamLog) FormatID(pos hub.Position) string {
	ids := l.ids.Load()
	if ids == nil {
		return ""
	}
	return ids.ID(pos)
}

// idKeyScript returns the hub's id key, creating it if there is none:
// the first instance to need it picks it, and every instance, now and
// after restarts, uses the same, so that ids resume anywhere.
var idKeyScript = goredis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`)

// loadIDs reads the hub's id key from Redis, creating it if need be, and
// returns the cipher of ids. A key that changed (Redis lost it, and
// another instance made a new one) replaces the one this instance had.
func (l *streamLog) loadIDs(ctx context.Context) (*hub.IDCipher, error) {
	key, err := idKeyScript.Run(ctx, l.client, []string{l.idKey}, hub.NewIDKey()).Text()
	if err != nil {
		return nil, err
	}
	ids, err := hub.NewIDCipher([]byte(key))
	if err != nil {
		return nil, fmt.Errorf("the id key %s in Redis is not %d bytes", l.idKey, hub.IDKeyLen)
	}
	l.ids.Store(ids)
	return ids, nil
}

// MayArrive implements hub.Log: an entry id a little ahead of what this
// instance has read may be one another instance has just added.
func (l *streamLog) MayArrive(pos hub.Position) bool {
	return pos.Major <= uint64(time.Now().Add(maxClockSkew).UnixMilli())
}

// Status implements hub.Log.
func (l *streamLog) Status() *hub.TransportStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &hub.TransportStatus{Name: "redis", Connected: l.connected, LastError: l.lastErr,
		LastID: l.lastID, LagMillis: l.lag.Milliseconds(), InFlight: len(l.sem)}
}

// publishScript stores a publish atomically: an Idempotency-Key seen
// before returns its ids; otherwise every event is added, the stream
// trimmed to its length and age, and the key remembered.
//
// KEYS: stream, idempotency key. ARGV: use key (0/1), max length, min id
// ("" for none), key lifetime in ms, event count, then topics, body and
// publisher id ("" for none) of each event. A publisher id is stored in
// the entry's field i, for every instance's reader to put on the wire.
var publishScript = goredis.NewScript(`
if ARGV[1] == '1' then
	local ids = redis.call('GET', KEYS[2])
	if ids then return {1, ids} end
end
local n = tonumber(ARGV[5])
local ids = {}
for i = 1, n do
	local a = 3 + 3 * i
	if ARGV[a + 2] == '' then
		ids[i] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 't', ARGV[a], 'b', ARGV[a + 1])
	else
		ids[i] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 't', ARGV[a], 'b', ARGV[a + 1], 'i', ARGV[a + 2])
	end
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

// Append implements hub.Log: the events are stored once Redis has them;
// every instance's reader, this one's included, delivers them.
func (l *streamLog) Append(ctx context.Context, events []*hub.Event, idemKey string, maxSize int) ([]string, error) {
	select {
	case l.sem <- struct{}{}:
		defer func() { <-l.sem }()
	default:
		return nil, fmt.Errorf("%w: too many publishes waiting for Redis", hub.ErrUnavailable)
	}
	settings := l.sink.Settings()
	args := make([]any, 5, 5+3*len(events))
	args[0], args[1], args[2], args[3], args[4] = "0", max(settings.History, streamMin), "",
		max(l.idemWindow.Milliseconds(), 1), len(events) // PX 0 would fail after the XADDs
	if idemKey != "" {
		args[0] = "1"
	}
	if settings.HistoryAge > 0 {
		args[2] = strconv.FormatInt(time.Now().Add(-settings.HistoryAge).UnixMilli(), 10)
	}
	for _, e := range events {
		body := e.Body()
		idLen := idLineLen
		if e.ID != "" {
			idLen = hub.IDLineLen(e.ID) // the publisher's, kept on the wire
		}
		if maxSize > 0 && idLen+len(body) > maxSize {
			return nil, hub.ErrEventTooLarge
		}
		args = append(args, strings.Join(e.Topics, " "), body, e.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, l.publishTimeout)
	defer cancel()
	cipher := l.ids.Load()
	if cipher == nil {
		var err error
		if cipher, err = l.loadIDs(ctx); err != nil {
			l.failed(err)
			return nil, fmt.Errorf("%w: %v", hub.ErrUnavailable, err)
		}
	}
	res, err := publishScript.Run(ctx, l.client, []string{l.stream, l.idemPrefix + idemKey}, args...).Slice()
	if err != nil {
		l.failed(err)
		return nil, fmt.Errorf("%w: %v", hub.ErrUnavailable, err)
	}
	ids, again, err := parsePublishReply(res, len(events))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", hub.ErrUnavailable, err)
	}
	for i, id := range ids {
		pos, ok := parseStreamID(id)
		if !ok {
			return nil, fmt.Errorf("%w: unexpected reply from Redis", hub.ErrUnavailable)
		}
		ids[i] = cipher.ID(pos)
		if i < len(events) && events[i].ID != "" && !again {
			ids[i] = events[i].ID
		}
	}
	return ids, nil
}

// parsePublishReply reads publishScript's reply, {stored before, ids},
// checking its shape: n ids for a new publish; again tells a publish
// stored before under its idempotency key.
func parsePublishReply(res []any, n int) (ids []string, again bool, err error) {
	if len(res) != 2 {
		return nil, false, errors.New("unexpected reply from Redis")
	}
	joined, _ := res[1].(string)
	if joined == "" {
		return nil, false, errors.New("unexpected reply from Redis")
	}
	ids = strings.Split(joined, " ")
	flag, _ := res[0].(int64)
	if flag == 0 && len(ids) != n {
		return nil, false, errors.New("unexpected reply from Redis")
	}
	return ids, flag != 0, nil
}

func (l *streamLog) failed(err error) {
	if l.ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.connected || l.lastErr == "" {
		l.logger.Warn("redis unreachable", zap.String("hub", l.hub), zap.Error(err))
	}
	l.connected, l.lastErr = false, err.Error()
}

func (l *streamLog) succeeded(last hub.Position, lag time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.connected && l.lastErr != "" {
		l.logger.Info("redis reachable again", zap.String("hub", l.hub))
	}
	l.connected, l.lastErr, l.lastID, l.lag = true, "", formatStreamID(last), lag
}
