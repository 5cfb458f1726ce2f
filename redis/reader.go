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
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// How the reader reads.
const (
	readBatch  = 1000 // entries per read
	readBlock  = time.Second
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// read follows the stream from the newest id it has seen, never from
// "now": after an outage it catches up on everything Redis kept.
func (l *streamLog) read() {
	defer l.wg.Done()
	var last hub.Position
	loaded, check := false, false
	backoff := minBackoff
	for l.ctx.Err() == nil {
		var err error
		switch {
		case !loaded:
			last, err = l.load(false)
			loaded = err == nil
		case check:
			// Back after an error: if Redis dropped events this reader had
			// not read, the hub's history is reloaded and streams resume.
			var gap bool
			if gap, err = l.lost(last, hub.Position{}); gap {
				last, err = l.load(true)
			}
			check = err != nil
		default:
			last, err = l.follow(last)
		}
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			l.failed(err)
			check = loaded
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
	}
}

// follow reads the entries after last and delivers them to the hub.
func (l *streamLog) follow(last hub.Position) (hub.Position, error) {
	res, err := l.client.XRead(l.ctx, &goredis.XReadArgs{Streams: []string{l.stream, formatStreamID(last)},
		Count: readBatch, Block: readBlock}).Result()
	if errors.Is(err, goredis.Nil) {
		l.succeeded(last, 0)
		return last, nil
	}
	if err != nil || len(res) == 0 {
		return last, err
	}
	events := l.decode(res[0].Messages)
	if len(events) == 0 {
		return last, nil
	}
	if len(res[0].Messages) == readBatch {
		// A full batch: this reader is behind, and the stream may have
		// been trimmed past what it had read.
		if gap, err := l.lost(last, events[0].Pos); err != nil {
			return last, err
		} else if gap {
			return l.load(true)
		}
	}
	l.sink.Deliver(hub.Delivery{Events: events})
	newest := events[len(events)-1]
	l.succeeded(newest.Pos, time.Since(newest.Time))
	return newest.Pos, nil
}

// lost tells whether Redis has deleted an entry after last that this
// reader never read (one before next, when next is known).
func (l *streamLog) lost(last, next hub.Position) (bool, error) {
	info, err := l.client.XInfoStream(l.ctx, l.stream).Result()
	if isNoSuchKey(err) {
		return false, nil // nothing kept: nothing to catch up on
	}
	if err != nil {
		return false, err
	}
	deleted, ok := parseStreamID(info.MaxDeletedEntryID)
	if !ok || !last.Less(deleted) {
		return false, nil
	}
	return next == (hub.Position{}) || deleted.Less(next), nil
}

// load gives the hub the newest entries of the stream as its history and
// returns the position to follow from.
func (l *streamLog) load(gap bool) (hub.Position, error) {
	var base hub.Position
	if _, err := l.loadIDs(l.ctx); err != nil {
		return base, err
	}
	info, err := l.client.XInfoStream(l.ctx, l.stream).Result()
	switch {
	case isNoSuchKey(err):
		l.sink.Deliver(hub.Delivery{Reload: true, Base: base, Gap: gap})
		l.succeeded(base, 0)
		return base, nil
	case err != nil:
		return base, err
	}
	n := l.sink.Settings().History
	msgs, err := l.client.XRevRangeN(l.ctx, l.stream, "+", "-", int64(n+1)).Result()
	if err != nil {
		return base, err
	}
	if len(msgs) == n+1 {
		base, _ = parseStreamID(msgs[n].ID)
		msgs = msgs[:n]
	} else if id, ok := parseStreamID(info.MaxDeletedEntryID); ok {
		base = id
	}
	slices.Reverse(msgs)
	events := l.decode(msgs)
	l.sink.Deliver(hub.Delivery{Events: events, Reload: true, Base: base, Gap: gap})
	last := base
	if len(events) > 0 {
		last = events[len(events)-1].Pos
	}
	if id, ok := parseStreamID(info.LastGeneratedID); ok && last.Less(id) && len(events) == 0 {
		last = id
	}
	l.succeeded(last, 0)
	return last, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// decode turns stream entries into events; an entry this plugin did not
// write is skipped.
func (l *streamLog) decode(msgs []goredis.XMessage) []*hub.Event {
	ids := l.ids.Load() // load read it before any entry
	events := make([]*hub.Event, 0, len(msgs))
	for _, m := range msgs {
		pos, ok := parseStreamID(m.ID)
		topics, _ := m.Values["t"].(string)
		body, _ := m.Values["b"].(string)
		if !ok || topics == "" || body == "" {
			l.logger.Warn("skipping a stream entry not written by this plugin",
				zap.String("hub", l.hub), zap.String("id", m.ID))
			continue
		}
		events = append(events, hub.NewStoredEvent(ids.ID(pos), pos, time.UnixMilli(int64(pos.Major)), strings.Fields(topics), []byte(body)))
	}
	return events
}
