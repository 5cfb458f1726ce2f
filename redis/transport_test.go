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
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	caddysse "github.com/caddy-sse/caddy-sse"
	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/redistest"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// idRE is the shape of every event id: 22 characters of base64url.
var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// startRedisCaddy starts Caddy in this process with a Redis hub of a name
// of this test alone, under a key prefix of this test alone; extra adds
// options to the handler.
func startRedisCaddy(t *testing.T, extra string) (tc *caddytest.Caddy, url, hubName string) {
	t.Helper()
	url = redistest.URL(t)
	hubName = redistest.UniqueHub(t)
	return caddytest.Start(t, redistest.Site(url, redistest.KeyPrefix(t, url), hubName, extra)), url, hubName
}

func TestRedisPublishSubscribe(t *testing.T) {
	tc, _, _ := startRedisCaddy(t, "")

	s := tc.Subscribe("/events?topic=news")
	var ids []string
	ids = append(ids, tc.PublishForm("/events", "topic", "news", "data", "one"))
	status, body := tc.Post("/events", "application/json",
		`[{"topic":"news","data":"two","event":"update"},{"topic":"other","data":"x"},{"topics":["news","other"],"data":{"n":3}}]`)
	if status != http.StatusOK {
		t.Fatalf("batch: %d %s", status, body)
	}
	var batch struct{ IDs []string }
	if err := json.Unmarshal([]byte(body), &batch); err != nil || len(batch.IDs) != 3 {
		t.Fatalf("batch answer %q: %v", body, err)
	}
	ids = append(ids, batch.IDs...)
	seen := make(map[string]bool)
	for i, id := range ids {
		if !idRE.MatchString(id) || seen[id] {
			t.Fatalf("id %d = %q, want a new opaque id", i, id)
		}
		seen[id] = true
	}
	want := []struct{ id, typ, data string }{
		{ids[0], "message", "one"}, {ids[1], "update", "two"}, {ids[3], "message", `{"n":3}`},
	}
	for _, w := range want {
		ev := s.Next(5 * time.Second)
		if ev.ID != w.id || ev.Type != w.typ || ev.Data != w.data {
			t.Fatalf("got %+v, want %+v", ev, w)
		}
	}
}

func TestRedisResumeAndReplay(t *testing.T) {
	tc, _, _ := startRedisCaddy(t, "\n\t\thistory 5")

	var ids []string
	for i := range 8 {
		ids = append(ids, tc.PublishForm("/events", "topic", "t", "data", fmt.Sprint(i)))
	}
	// Resume after the fifth event: the last three come back, then live.
	s := tc.Subscribe("/events?topic=t", "Last-Event-ID", ids[4])
	for i := 5; i < 8; i++ {
		if ev := s.Next(5 * time.Second); ev.ID != ids[i] || ev.Data != fmt.Sprint(i) {
			t.Fatalf("replay %d: got %+v", i, ev)
		}
	}
	live := tc.PublishForm("/events", "topic", "t", "data", "live")
	if ev := s.Next(5 * time.Second); ev.ID != live {
		t.Fatalf("live: got %+v, want id %s", ev, live)
	}

	// replay=N on a first connect.
	r := tc.Subscribe("/events?topic=t&replay=2")
	if a, b := r.Next(5*time.Second), r.Next(5*time.Second); a.ID != ids[7] || b.ID != live {
		t.Fatalf("replay=2: got %q, %q", a.ID, b.ID)
	}

	// An id the history of 5 no longer has: sse.reset expired_id with the newest id.
	old := tc.Subscribe("/events?topic=t", "Last-Event-ID", ids[1])
	if ev := old.Next(5 * time.Second); ev.Type != "sse.reset" || ev.ID != live || !strings.Contains(ev.Data, string(hub.ReasonExpiredID)) {
		t.Fatalf("expired resume: got %+v", ev)
	}
}

func TestRedisRejectsSpecialIDs(t *testing.T) {
	tc, _, hubName := startRedisCaddy(t, "")
	newest := tc.PublishForm("/events", "topic", "t", "data", "x")
	ssetest.PollUntil(t, 5*time.Second, "the reader has read the event", func() bool {
		return hubStatsInProcess(t, hubName).NewestID == newest
	})
	// Redis's special ids and shorthands, and junk: never passed to Redis,
	// every one a reset with the newest id.
	for _, id := range []string{"$", "+", "-", ">", "*", "0", "5", "5-", "-5", "01-1", "1-01", "+1-1",
		"18446744073709551616-0", "1-2-3", "abc", "1_1", "99999999999999-0", "AAAAAAAAAAAAAAAAAAAAAA"} {
		s := tc.Subscribe("/events?topic=t", "Last-Event-ID", id)
		ev := s.Next(5 * time.Second)
		if ev.Type != "sse.reset" || ev.ID != newest || !strings.Contains(ev.Data, string(hub.ReasonUnknownID)) {
			t.Fatalf("Last-Event-ID %q: got %+v", id, ev)
		}
		s.Close()
	}
}

func TestRedisIdempotencyKey(t *testing.T) {
	tc, _, _ := startRedisCaddy(t, "")
	s := tc.Subscribe("/events?topic=t")
	body := `[{"topic":"t","data":"a"},{"topic":"t","data":"b"}]`
	st1, first := tc.Post("/events", "application/json", body, "Idempotency-Key", "k1")
	st2, again := tc.Post("/events", "application/json", body, "Idempotency-Key", "k1")
	if st1 != 200 || st2 != 200 || first != again {
		t.Fatalf("idempotent publish: %d %s, then %d %s", st1, first, st2, again)
	}
	next := tc.PublishForm("/events", "topic", "t", "data", "c")
	var got []string
	for range 3 {
		got = append(got, s.Next(5*time.Second).Data)
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("subscriber got %v (last id %s), want a,b,c once each", got, next)
	}
}

func TestRedisUnreachable(t *testing.T) {
	// Nothing listens on this port: provisioning works (it never dials),
	// publishes get a 503 naming the problem, streams open and heartbeat.
	deadURL := fmt.Sprintf("redis://127.0.0.1:%d", ssetest.FreePort(t))
	hubName := redistest.UniqueHub(t)
	tc := caddytest.Start(t, redistest.Site(deadURL, "sse:", hubName, "\n\t\theartbeat 50ms"))
	status, body := tc.Post("/events", "application/x-www-form-urlencoded", "topic=t&data=x")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
		t.Fatalf("publish with Redis down: %d %q", status, body)
	}
	lines := tc.SubscribeLines("/events?topic=t")
	for seen := 0; seen < 3; {
		if strings.HasPrefix(lines.Line(5*time.Second), ":") {
			seen++
		}
	}
	st := hubStatsInProcess(t, hubName)
	if st.Transport == nil || st.Transport.Connected || st.Transport.LastError == "" {
		t.Fatalf("transport status with Redis down: %+v", st.Transport)
	}
}

// hubStatsInProcess reads the stats of a pooled hub of this process.
func hubStatsInProcess(t *testing.T, name string) hub.Stats {
	t.Helper()
	h, err := lookupHub(name)
	if err != nil {
		t.Fatal(err)
	}
	return h.Stats()
}

func TestRedisRestartReplaysFromRedis(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url)
	hubName := redistest.UniqueHub(t)
	site := redistest.Site(url, prefix, hubName, "")
	tc := caddytest.Start(t, site)
	var ids []string
	for i := range 4 {
		ids = append(ids, tc.PublishForm("/events", "topic", "t", "data", fmt.Sprint(i)))
	}
	ssetest.PollUntil(t, 5*time.Second, "the reader has read every event", func() bool {
		return hubStatsInProcess(t, hubName).NewestID == ids[3]
	})
	// A stop destroys the hub, its mirror and its Redis client.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := redistest.Clients(t, url, "caddy-sse:"+hubName); n != 0 {
		t.Fatalf("%d Redis connections left after stop", n)
	}
	tc.Load(site)
	s := tc.Subscribe("/events?topic=t", "Last-Event-ID", ids[1])
	for i := 2; i < 4; i++ {
		if ev := s.Next(5 * time.Second); ev.ID != ids[i] {
			t.Fatalf("after restart, replay %d: got %+v, want id %s", i, ev, ids[i])
		}
	}
}

func TestRedisCaddyfile(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"transport", "wrong argument count"},
		{"transport memory extra", "wrong argument count"},
		{"transport memory {\n\tx\n}", "takes no block"},
		{"transport kafka x", "want memory or redis"},
		{"transport redis", "want one URL"},
		{"transport redis a b", "want one URL"},
		{"transport redis redis://x {\n\tnope 1\n}", "unknown transport redis option"},
		{"transport redis redis://x {\n\tpool_size\n}", "wrong argument count"},
		{"transport redis redis://x {\n\tpool_size -1\n}", "non-negative"},
		{"transport redis redis://x {\n\tkey_prefix a\n\tkey_prefix b\n}", "duplicate"},
	} {
		_, err := caddytest.Adapt(t, ":80 {\n\tsse {\n\t\t"+strings.ReplaceAll(tt.in, "\n", "\n\t\t")+"\n\t}\n}\n")
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q: got error %v, want one containing %q", tt.in, err, tt.err)
		}
	}
}

func TestRedisProvisionErrors(t *testing.T) {
	tc := caddytest.Start(t, ":{PORT} {\n\trespond ok\n}\n")
	for _, tt := range []struct{ transport, err string }{
		{"redis ftp://x", "bad URL"},
		{"redis redis://u:s3cret@:notaport", "bad URL"},
		{"redis redis://x {\n\t\t\tkey_prefix a{b}\n\t\t}", "key_prefix"},
	} {
		err := tc.TryLoad(":{PORT} {\n\tsse {\n\t\ttransport " + tt.transport + "\n\t}\n}\n")
		if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("transport %q: got %v, want an error containing %q and no secret", tt.transport, err, tt.err)
		}
	}
	// Two handlers of one hub with different transports.
	err := tc.TryLoad(":{PORT} {\n\tsse /a {\n\t\thub x\n\t\ttransport memory\n\t}\n\tsse /b {\n\t\thub x\n\t\ttransport redis redis://u:s3cret@127.0.0.1:1\n\t}\n}\n")
	if err == nil || !strings.Contains(err.Error(), "disagree on transport: memory at Caddyfile:") ||
		!strings.Contains(err.Error(), "redis redis://127.0.0.1:1 at Caddyfile:") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("mixed transports: got %v", err)
	}
}

func TestRedisReloadKeepsClientAndReader(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url)
	hubName := redistest.UniqueHub(t)
	tc := caddytest.Start(t, redistest.Site(url, prefix, hubName, ""))
	first := tc.PublishForm("/events", "topic", "t", "data", "before")
	before, err := lookupHub(hubName)
	if err != nil {
		t.Fatal(err)
	}
	// A reload changing a route option keeps the hub, its Redis client and
	// its reader; a resume across the reload loses nothing.
	tc.Load(redistest.Site(url, prefix, hubName, "\n\t\theartbeat 5s"))
	after, err := lookupHub(hubName)
	if err != nil || after != before {
		t.Fatalf("the reload replaced the hub (%p → %p, %v)", before, after, err)
	}
	second := tc.PublishForm("/events", "topic", "t", "data", "after")
	s := tc.Subscribe("/events?topic=t", "Last-Event-ID", first)
	if ev := s.Next(5 * time.Second); ev.ID != second {
		t.Fatalf("resume across the reload: got %+v, want id %s", ev, second)
	}
	if n := redistest.Clients(t, url, "caddy-sse:"+hubName); n < 1 {
		t.Fatalf("no Redis connection of the hub after the reload")
	}
	// A reload changing the transport starts a new hub of that name. (The
	// stream is closed first: one the reload ends could otherwise go back
	// to the client's idle pool and be picked for the next publish.)
	s.Close()
	tc.Load(redistest.Site(url, prefix+"x:", hubName, ""))
	if h, err := lookupHub(hubName); err != nil || h == before {
		t.Fatalf("a new key prefix kept the old hub (%v)", err)
	}
	fresh := tc.PublishForm("/events", "topic", "t", "data", "new stream")
	if ev := tc.Subscribe("/events?topic=t&replay=5").Next(5 * time.Second); ev.ID != fresh {
		t.Fatalf("replay on the new stream: got %+v, want only id %s", ev, fresh)
	}
}

func TestRedisLimits(t *testing.T) {
	rs := redistest.StartServer(t) // paused below: a Redis of this test alone
	hubName := redistest.UniqueHub(t)
	tc := caddytest.Start(t, fmt.Sprintf(`:{PORT} {
	sse /events {
		hub %s
		max_event_size 100
		transport redis %s {
			max_in_flight 1
			publish_timeout 2s
		}
		subscribe_allow **
		publish_allow **
	}
}
`, hubName, rs.URL))
	// max_event_size counts the id's 22 characters: at the limit and
	// one byte past it.
	base := len((&hub.Event{Topics: []string{"t"}, Data: "x"}).Body()) - 1 + hub.IDLineLen(strings.Repeat("0", hub.IDLen))
	atLimit := strings.Repeat("x", 100-base)
	if status, b := tc.Post("/events", "application/x-www-form-urlencoded", "topic=t&data="+atLimit); status != http.StatusOK {
		t.Fatalf("event of exactly max_event_size: %d %s", status, b)
	}
	if status, b := tc.Post("/events", "application/x-www-form-urlencoded", "topic=t&data="+atLimit+"x"); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("event one byte past max_event_size: %d %s", status, b)
	}

	// Redis stalls: a publish waits at most publish_timeout, and while one
	// waits, max_in_flight 1 turns the next away at once.
	opts, _ := redis.ParseURL(rs.URL)
	opts.MaxRetries, opts.DisableIdentity = -1, true
	admin := redis.NewClient(opts)
	defer admin.Close()
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "5000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	defer admin.Do(context.Background(), "CLIENT", "UNPAUSE")
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, tc.URL+"/events", strings.NewReader("topic=t&data=slow"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	ssetest.PollUntil(t, 5*time.Second, "one publish waiting for Redis", func() bool {
		return hubStatsInProcess(t, hubName).Transport.InFlight == 1
	})
	status, b := tc.Post("/events", "application/x-www-form-urlencoded", "topic=t&data=second")
	if status != http.StatusServiceUnavailable || !strings.Contains(b, "unavailable") {
		t.Fatalf("publish past max_in_flight: %d %q", status, b)
	}
	if n := hubStatsInProcess(t, hubName).Transport.InFlight; n != 1 {
		t.Fatalf("the publish past max_in_flight did not return at once: %d in flight after it", n)
	}
	select {
	case st := <-first:
		if st != http.StatusServiceUnavailable {
			t.Fatalf("publish stalled past publish_timeout: %d", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a publish outlived publish_timeout by seconds")
	}
}

// lookupHub finds a hub of the running config, as another Caddy module
// would.
func lookupHub(name string) (*hub.Hub, error) {
	h, ok := caddysse.LookupHub(name)
	if !ok {
		return nil, fmt.Errorf("hub %q not found", name)
	}
	return h, nil
}

// TestMain fails the run when a test leaves goroutines behind.
func TestMain(m *testing.M) { caddytest.Main(m) }
