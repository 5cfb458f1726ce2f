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

package redis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/redistest"
	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// Tests of what the Redis transport does when Redis loses events: trims,
// outages, restarts from an older snapshot.

// adminClient is a client of the Redis at url for the test itself.
func adminClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries, opts.DisableIdentity = -1, true
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// streamKey is the key of a hub's stream.
func streamKey(prefix, hubName string) string { return prefix + "{" + hubName + "}:stream" }

// publishElsewhere stores n events on topic t as another instance does,
// straight into the hub's stream, trimmed as the transport trims it (to
// about 10,000 entries), and returns their ids.
func publishElsewhere(t *testing.T, c *redis.Client, stream string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for done := 0; done < n; {
		batch := min(n-done, 1000)
		cmds, err := c.Pipelined(context.Background(), func(pipe redis.Pipeliner) error {
			for i := range batch {
				body := (&hub.Event{Topics: []string{"t"}, Data: fmt.Sprint("elsewhere-", done+i)}).Body()
				pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, MaxLen: 10000, Approx: true,
					Values: []any{"t", "t", "b", body}})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range cmds {
			ids = append(ids, cmd.(*redis.StringCmd).Val())
		}
		done += batch
	}
	return ids
}

// opaqueIDs returns the event ids a hub gives the entries of these
// stream ids: the entries' positions under the hub's id key.
func opaqueIDs(t *testing.T, hubName string, raw []string) []string {
	t.Helper()
	h, err := lookupHub(hubName)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(raw))
	for i, id := range raw {
		var pos hub.Position
		if _, err := fmt.Sscanf(id, "%d-%d", &pos.Major, &pos.Minor); err != nil {
			t.Fatalf("stream id %q: %v", id, err)
		}
		if out[i] = h.Log().FormatID(pos); out[i] == "" {
			t.Fatal("the hub has not read its id key yet")
		}
	}
	return out
}

// eventPosition reads an event id back through its hub.
func eventPosition(t *testing.T, hubName, id string) hub.Position {
	t.Helper()
	h, err := lookupHub(hubName)
	if err != nil {
		t.Fatal(err)
	}
	pos, ok := h.Log().ParseID(id)
	if !ok {
		t.Fatalf("id %q is not one of hub %s", id, hubName)
	}
	return pos
}

// expectControl reads the next event of s and checks that it is a
// control event of that type and reason, and with that id unless id is
// empty (sse.close has none: the client keeps the last one it saw).
func expectControl(t *testing.T, s *ssetest.Stream, typ string, reason hub.Reason, id string) {
	t.Helper()
	ev := s.Next(10 * time.Second)
	if ev.Type != typ || ev.Data != `{"reason":"`+string(reason)+`"}` || (id != "" && ev.ID != id) {
		t.Fatalf("got %+v, want %s with reason %s and id %q", ev, typ, reason, id)
	}
}

// An instance cut from Redis while another one published more than the
// stream keeps comes back to a stream trimmed past what it had read: its
// streams end with transport_gap, and a resume gets expired_id.
func TestRedisGapWhileCutOff(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url)
	hubName := redistest.UniqueHub(t)
	proxy := redistest.StartProxy(t, url)
	tc := caddytest.Start(t, redistest.Site(proxy.URL, prefix, hubName, ""))
	s := tc.Subscribe("/events?topic=t")
	first := tc.PublishForm("/events", "topic", "t", "data", "before")
	if ev := s.Next(5 * time.Second); ev.ID != first {
		t.Fatalf("before the cut: got %+v, want id %s", ev, first)
	}

	proxy.Cut()
	ssetest.PollUntil(t, 10*time.Second, "the instance reporting Redis unreachable", func() bool {
		return !hubStatsInProcess(t, hubName).Transport.Connected
	})
	ids := opaqueIDs(t, hubName, publishElsewhere(t, adminClient(t, url), streamKey(prefix, hubName), 11000))
	proxy.Restore()

	expectControl(t, s, "sse.close", hub.ReasonGap, "")
	r := tc.Subscribe("/events?topic=t", "Last-Event-ID", first)
	expectControl(t, r, "sse.reset", hub.ReasonExpiredID, ids[len(ids)-1])
}

// A fresh instance loads a stream that XTRIM cut: a resume from an entry
// Redis no longer has gets expired_id, not a replay with a hole; one from
// the first entry kept gets everything after it.
func TestRedisResumeFromTrimmedID(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url)
	hubName := redistest.UniqueHub(t)
	site := redistest.Site(url, prefix, hubName, "")
	tc := caddytest.Start(t, site)
	var ids []string
	for i := range 20 {
		ids = append(ids, tc.PublishForm("/events", "topic", "t", "data", fmt.Sprint(i)))
	}
	if err := adminClient(t, url).XTrimMaxLen(context.Background(), streamKey(prefix, hubName), 10).Err(); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	tc.Load(site)

	old := tc.Subscribe("/events?topic=t", "Last-Event-ID", ids[3])
	expectControl(t, old, "sse.reset", hub.ReasonExpiredID, ids[19])
	kept := tc.Subscribe("/events?topic=t", "Last-Event-ID", ids[10])
	for i := 11; i < 20; i++ {
		if ev := kept.Next(5 * time.Second); ev.ID != ids[i] {
			t.Fatalf("resume from the first entry kept, event %d: got %+v, want id %s", i, ev, ids[i])
		}
	}
}

// Redis restarts from a snapshot older than three acknowledged events:
// the instance that had read them ends its streams with transport_gap,
// and a resume from a lost event gets unknown_id, on that instance and on
// a fresh one, before and after new events.
func TestRedisRestartFromOlderSnapshot(t *testing.T) {
	rs := redistest.StartSnapshotServer(t)
	hubName := redistest.UniqueHub(t)
	site := redistest.Site(rs.URL, "sse:", hubName, "")
	tc := caddytest.Start(t, site)
	s := tc.Subscribe("/events?topic=t")
	var ids []string
	for i := range 6 {
		if i == 3 {
			rs.Save() // holds the first three
		}
		ids = append(ids, tc.PublishForm("/events", "topic", "t", "data", fmt.Sprint(i)))
	}
	for _, id := range ids {
		if ev := s.Next(5 * time.Second); ev.ID != id {
			t.Fatalf("got %+v, want id %s", ev, id)
		}
	}
	rs.Kill()
	rs.Start()

	expectControl(t, s, "sse.close", hub.ReasonGap, "")
	r := tc.Subscribe("/events?topic=t", "Last-Event-ID", ids[5])
	expectControl(t, r, "sse.reset", hub.ReasonUnknownID, ids[2])

	// A fresh instance, and a client that had the first lost event.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	tc.Load(site)
	fresh := tc.Subscribe("/events?topic=t", "Last-Event-ID", ids[3])
	expectControl(t, fresh, "sse.reset", hub.ReasonUnknownID, ids[2])
	next := tc.PublishForm("/events", "topic", "t", "data", "after")
	if !eventPosition(t, hubName, ids[5]).Less(eventPosition(t, hubName, next)) {
		t.Fatalf("new id %s not after the lost ones (%s)", next, ids[5])
	}
	ssetest.PollUntil(t, 5*time.Second, "the reader has read the new event", func() bool {
		return hubStatsInProcess(t, hubName).NewestID == next
	})
	later := tc.Subscribe("/events?topic=t", "Last-Event-ID", ids[4])
	expectControl(t, later, "sse.reset", hub.ReasonUnknownID, next)
}

// Redis is out of reach when the instance starts: a stream opened then
// gets the first events stored once Redis is back, and not the older ones.
func TestRedisFirstLoadReachesStreamsOpenedDuringOutage(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url)
	hubName := redistest.UniqueHub(t)
	admin := adminClient(t, url)
	publishElsewhere(t, admin, streamKey(prefix, hubName), 2) // history from before
	proxy := redistest.StartProxy(t, url)
	proxy.Cut()
	tc := caddytest.Start(t, redistest.Site(proxy.URL, prefix, hubName, ""))
	s := tc.Subscribe("/events?topic=t") // opens once the first load was waited for
	if st := hubStatsInProcess(t, hubName); st.Transport.Connected {
		t.Fatalf("the instance reached Redis through the cut proxy: %+v", st.Transport)
	}
	// Stored before this instance reads the stream again.
	stored := publishElsewhere(t, admin, streamKey(prefix, hubName), 1)
	proxy.Restore()

	// The hub reads its id key once Redis is back: the event's id is known then.
	if ev := s.Next(10 * time.Second); ev.ID != opaqueIDs(t, hubName, stored)[0] {
		t.Fatalf("first event after Redis came back: got %+v, want the entry %s", ev, stored[0])
	}
	live := tc.PublishForm("/events", "topic", "t", "data", "live")
	if ev := s.Next(5 * time.Second); ev.ID != live || ev.Data != "live" {
		t.Fatalf("got %+v, want id %s", ev, live)
	}
	if replay := tc.Subscribe("/events?topic=t&replay=10"); !strings.HasPrefix(replay.Next(5*time.Second).Data, "elsewhere-") {
		t.Fatal("the history from before Redis came back is not in history")
	}
}
