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
	"math"
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
	// Subscribers come once the reader runs: what Redis stores from now on
	// is what those that come before the first load have not seen.
	live := before(hub.Position{Major: uint64(time.Now().UnixMilli())})
	var cur cursor
	loaded, gap := false, false
	backoff := minBackoff
	for l.ctx.Err() == nil {
		var err error
		switch {
		case !loaded || gap:
			// A reload after a gap is retried until it succeeds: the
			// cursor is not to be trusted, and the hub's streams must
			// still learn of the gap.
			var next cursor
			if next, err = l.load(gap, live); err == nil {
				cur, loaded, gap, live = next, true, false, hub.Position{}
			}
		default:
			var lost bool
			cur, lost, err = l.follow(cur)
			gap = lost
		}
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			l.failed(err)
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

// cursor is where the reader stands: the position it has read up to, and
// how many entries Redis had added to the stream up to it (XINFO's
// entries-added when it was the newest), which is how the reader tells
// that entries were lost.
type cursor struct {
	last  hub.Position
	added int64
}

// snapshot is one atomic look at the stream: Redis's clock, what XINFO
// STREAM tells of it, and some of its entries.
type snapshot struct {
	now       time.Time
	length    int64
	added     int64        // entries-added
	first     hub.Position // the oldest entry, when length > 0
	generated hub.Position // last-generated-id
	deleted   hub.Position // max-deleted-entry-id (XDEL only; Redis 7.0 leaves it at 0-0 on trims)
	msgs      []goredis.XMessage
}

// look takes a snapshot of the stream with the entries read returns.
func (l *streamLog) look(read func(pipe goredis.Pipeliner) *goredis.XMessageSliceCmd) (*snapshot, error) {
	var clock *goredis.TimeCmd
	var info *goredis.XInfoStreamCmd
	var entries *goredis.XMessageSliceCmd
	_, _ = l.client.TxPipelined(l.ctx, func(pipe goredis.Pipeliner) error {
		clock = pipe.Time(l.ctx)
		info = pipe.XInfoStream(l.ctx, l.stream)
		entries = read(pipe)
		return nil
	})
	s := &snapshot{}
	var err error
	if s.now, err = clock.Result(); err != nil {
		return nil, err
	}
	if s.msgs, err = entries.Result(); err != nil {
		return nil, err
	}
	switch v, err := info.Result(); {
	case isNoSuchKey(err):
		return s, nil // no stream: nothing added, nothing kept
	case err != nil:
		return nil, err
	default:
		s.length, s.added = v.Length, v.EntriesAdded
		s.first, _ = parseStreamID(v.FirstEntry.ID)
		s.generated, _ = parseStreamID(v.LastGeneratedID)
		s.deleted, _ = parseStreamID(v.MaxDeletedEntryID)
	}
	return s, nil
}

// horizon is the position up to which the stream is settled, for a
// snapshot holding every entry after what the hub was given: an entry
// Redis adds later has an id of its clock then, or later.
func (s *snapshot) horizon() hub.Position {
	return before(hub.Position{Major: uint64(s.now.UnixMilli())})
}

// base is the position before which the stream lost entries: the hub may
// claim to hold what follows it once it holds every entry of the stream.
func (s *snapshot) base() hub.Position {
	switch {
	case s.length == 0:
		return s.generated // whatever it held is gone
	case s.added == s.length:
		return hub.Position{} // it never lost an entry
	}
	// Trims take the oldest entries: the last of them was before the
	// first entry kept. XDEL may have taken one after it.
	b := before(s.first)
	if b.Less(s.deleted) {
		b = s.deleted
	}
	return b
}

// lost tells why entries after cur are missing from a snapshot of the
// entries after cur.last, up to readBatch of them; "" when none is.
// Without a loss, Redis added exactly the entries after cur.last since
// cur.added.
func (s *snapshot) lost(cur cursor) string {
	n := int64(len(s.msgs))
	switch {
	case s.generated.Less(cur.last) || s.added < cur.added:
		return "the stream went back: Redis restarted from an older copy"
	case n < readBatch && s.added-cur.added != n:
		// Every entry after cur.last is in the snapshot.
		if s.added-cur.added > n {
			return "entries this instance had not read were trimmed or deleted"
		}
		return "the stream lost entries this instance had read: Redis restarted from an older copy"
	case n < readBatch:
		return ""
	}
	// A full batch, more to come. Trims take the oldest entries: entries
	// after cur.last were trimmed only if the first one read is the
	// stream's first, and then Redis removed more than up to cur.last.
	first, _ := parseStreamID(s.msgs[0].ID)
	if (first == s.first && s.added-s.length != cur.added) ||
		(cur.last.Less(s.deleted) && s.deleted.Less(first)) {
		return "entries this instance had not read were trimmed or deleted"
	}
	return ""
}

// follow reads the entries after cur and delivers them to the hub; with
// none, it waits for more.
// It reports lost when Redis lost entries this instance had not read:
// the reader then reloads the hub's history and ends its streams, so that
// their clients resume and learn what they missed.
func (l *streamLog) follow(cur cursor) (_ cursor, lost bool, _ error) {
	from := "(" + formatStreamID(cur.last)
	snap, err := l.look(func(pipe goredis.Pipeliner) *goredis.XMessageSliceCmd {
		return pipe.XRangeN(l.ctx, l.stream, from, "+", readBatch)
	})
	if err != nil {
		return cur, false, err
	}
	if why := snap.lost(cur); why != "" {
		l.logger.Warn("redis lost events; ending streams so that clients resume",
			zap.String("hub", l.hub), zap.String("last_id", formatStreamID(cur.last)), zap.String("cause", why))
		return cur, true, nil
	}
	if len(snap.msgs) == 0 {
		l.sink.Deliver(hub.Delivery{Horizon: snap.horizon()})
		l.succeeded(cur.last, 0)
		return cur, false, l.wait(cur.last)
	}
	d := hub.Delivery{Events: l.decode(snap.msgs)}
	if len(snap.msgs) < readBatch {
		d.Horizon = snap.horizon()
	}
	l.sink.Deliver(d)
	newest, _ := parseStreamID(snap.msgs[len(snap.msgs)-1].ID)
	l.succeeded(newest, time.Since(time.UnixMilli(int64(newest.Major))))
	return cursor{last: newest, added: cur.added + int64(len(snap.msgs))}, false, nil
}

// wait blocks until the stream has an entry after last, or readBlock
// passed; follow reads it.
func (l *streamLog) wait(last hub.Position) error {
	err := l.client.XRead(l.ctx, &goredis.XReadArgs{Streams: []string{l.stream, formatStreamID(last)},
		Count: 1, Block: readBlock}).Err()
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return err
}

// load gives the hub the newest entries of the stream as its history and
// returns the cursor to follow from.
func (l *streamLog) load(gap bool, live hub.Position) (cursor, error) {
	if _, err := l.loadIDs(l.ctx); err != nil {
		return cursor{}, err
	}
	n := l.sink.Settings().History
	snap, err := l.look(func(pipe goredis.Pipeliner) *goredis.XMessageSliceCmd {
		return pipe.XRevRangeN(l.ctx, l.stream, "+", "-", int64(n+1))
	})
	if err != nil {
		return cursor{}, err
	}
	msgs := snap.msgs
	var base hub.Position
	if len(msgs) == n+1 {
		base, _ = parseStreamID(msgs[n].ID)
		msgs = msgs[:n]
	} else {
		base = snap.base()
	}
	slices.Reverse(msgs)
	l.sink.Deliver(hub.Delivery{Events: l.decode(msgs), Reload: true, Base: base, Gap: gap,
		Live: live, Horizon: snap.horizon()})
	cur := cursor{last: snap.generated, added: snap.added}
	if cur.last.Less(base) {
		cur.last = base
	}
	l.succeeded(cur.last, 0)
	return cur, nil
}

// before is the position just before p.
func before(p hub.Position) hub.Position {
	switch {
	case p.Minor > 0:
		return hub.Position{Major: p.Major, Minor: p.Minor - 1}
	case p.Major > 0:
		return hub.Position{Major: p.Major - 1, Minor: math.MaxUint64}
	}
	return p
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
		stored := time.UnixMilli(int64(pos.Major))
		if pubID, _ := m.Values["i"].(string); pubID != "" {
			events = append(events, hub.NewStoredPublisherEvent(pubID, pos, stored, strings.Fields(topics), []byte(body)))
			continue
		}
		events = append(events, hub.NewStoredEvent(ids.ID(pos), pos, stored, strings.Fields(topics), []byte(body)))
	}
	return events
}
