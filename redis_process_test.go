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
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/redistest"
)

// expectIDs fails unless the next events of the stream have exactly the
// ids want; comment lines and the other fields are passed over.
func expectIDs(t *testing.T, s *lineStream, want []string) {
	t.Helper()
	prev := ""
	for i, w := range want {
		for {
			line := s.Line(10 * time.Second)
			// The opening block's id (after retry:) is where the stream
			// starts, not an event.
			opening := strings.HasPrefix(prev, "retry: ")
			prev = line
			if got, ok := strings.CutPrefix(line, "id: "); ok && !opening {
				if got != w {
					t.Fatalf("event %d: id %s, want %s", i, got, w)
				}
				break
			}
		}
	}
}

// waitComments reads the stream until n comment lines (heartbeats) came.
func waitComments(t *testing.T, s *lineStream, n int) {
	t.Helper()
	prev := ""
	for seen := 0; seen < n; {
		line := s.Line(10 * time.Second)
		opening := strings.HasPrefix(prev, "retry: ") // the stream's start, not an event
		prev = line
		if strings.HasPrefix(line, "id: ") && !opening {
			t.Fatalf("unexpected event %q while waiting for heartbeats", line)
		}
		if strings.HasPrefix(line, ":") {
			seen++
		}
	}
}

// publishTo posts a form event and returns status and body.
func publishTo(t *testing.T, base, data string, header ...string) (int, string) {
	t.Helper()
	status, _, body := doRequest(t, http.MethodPost, base+"/events", "application/x-www-form-urlencoded",
		"topic=t&data="+data, header...)
	return status, strings.TrimSpace(body)
}

// adminHubs reads GET /sse/hubs of a Caddy process.
func adminHubs(t *testing.T, p *caddyProcess) []hub.Stats {
	t.Helper()
	status, _, body := doRequest(t, http.MethodGet, "http://"+p.Admin+"/sse/hubs", "", "")
	var out []hub.Stats
	if status != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("GET /sse/hubs: %d %s", status, body)
	}
	return out
}

func redisConnected(t *testing.T, p *caddyProcess) bool {
	for _, st := range adminHubs(t, p) {
		if st.Transport != nil {
			return st.Transport.Connected
		}
	}
	return false
}

// metricValue reads one sample of a Caddy process's /metrics, as
// `name{labels} value`; it returns "" when the sample is absent.
func metricValue(t *testing.T, p *caddyProcess, sample string) string {
	t.Helper()
	_, _, body := doRequest(t, http.MethodGet, "http://"+p.Admin+"/metrics", "", "")
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), sample+" "); ok {
			return v
		}
	}
	return ""
}

var goroutineTotalRE = regexp.MustCompile(`goroutine profile: total (\d+)`)

// processGoroutines reads the goroutine count of a Caddy process.
func processGoroutines(t *testing.T, p *caddyProcess) int {
	t.Helper()
	_, _, body := doRequest(t, http.MethodGet, "http://"+p.Admin+"/debug/pprof/goroutine?debug=1", "", "")
	m := goroutineTotalRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no goroutine total in %.200q", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestRedisTwoInstances(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url)
	hubName := redistest.UniqueHub(t)
	bin := caddyBinary(t)
	site := redistest.Site(url, prefix, hubName, "")
	start := func() (*caddyProcess, *caddyProcess) {
		a := startCaddyProcess(t, bin, t.TempDir(), freePort(t), freePort(t), site)
		b := startCaddyProcess(t, bin, t.TempDir(), freePort(t), freePort(t), site)
		return a, b
	}
	a, b := start()

	// Warm up B once, then take its goroutine baseline.
	warm := openLines(t, b.URL+"/events?topic=warmup")
	warm.Close()
	baseline := processGoroutines(t, b)

	// Publish on A, receive on B: every event, in A's order, with A's ids.
	sb := openLines(t, b.URL+"/events?topic=t")
	sa := openLines(t, a.URL+"/events?topic=t")
	var ids []string
	for i := range 20 {
		status, id := publishTo(t, a.URL, fmt.Sprint(i))
		if status != http.StatusOK {
			t.Fatalf("publish %d on A: %d %s", i, status, id)
		}
		ids = append(ids, id)
	}
	status, _, body := doRequest(t, http.MethodPost, b.URL+"/events", "application/json",
		`[{"topic":"t","data":"b1"},{"topic":"t","data":"b2"}]`)
	var batch struct{ IDs []string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &batch) != nil || len(batch.IDs) != 2 {
		t.Fatalf("batch on B: %d %s", status, body)
	}
	ids = append(ids, batch.IDs...)
	expectIDs(t, sb, ids)
	expectIDs(t, sa, ids)

	// Resume on B with an id A handed out.
	rb := openLines(t, b.URL+"/events?topic=t", "Last-Event-ID", ids[5])
	expectIDs(t, rb, ids[6:])
	rb.Close()

	// An Idempotency-Key holds across instances.
	st1, id1 := publishTo(t, a.URL, "once", "Idempotency-Key", "k-"+hubName)
	st2, id2 := publishTo(t, b.URL, "once", "Idempotency-Key", "k-"+hubName)
	if st1 != 200 || st2 != 200 || id1 != id2 {
		t.Fatalf("same key on A then B: %d %s, %d %s", st1, id1, st2, id2)
	}
	ids = append(ids, id1)
	expectIDs(t, sb, []string{id1})
	sb.Close()
	sa.Close()

	// Streams gone: B's goroutines return to the baseline.
	pollUntil(t, 10*time.Second, "B's goroutines back to baseline", func() bool {
		return processGoroutines(t, b) <= baseline
	}, func() string { return fmt.Sprintf("baseline %d, now %d", baseline, processGoroutines(t, b)) })

	// Restart both: history comes back from Redis.
	for _, p := range []*caddyProcess{a, b} {
		if _, err := p.run(30*time.Second, "stop", "--address", p.Admin); err != nil {
			t.Fatal(err)
		}
		p.waitExit(t, 30*time.Second)
	}
	if n := redistest.Clients(t, url, "caddy-sse:"+hubName); n != 0 {
		t.Fatalf("%d Redis connections of the hub left after both instances stopped", n)
	}
	a, b = start()
	ra := openLines(t, a.URL+"/events?topic=t", "Last-Event-ID", ids[10])
	expectIDs(t, ra, ids[11:])
	rb = openLines(t, b.URL+"/events?topic=t", "Last-Event-ID", ids[0])
	expectIDs(t, rb, ids[1:])
	_ = a
}

func TestRedisOutage(t *testing.T) {
	rs := redistest.StartServer(t)
	prefix := redistest.KeyPrefix(t, rs.URL)
	hubName := redistest.UniqueHub(t)
	bin := caddyBinary(t)
	a := startCaddyProcess(t, bin, t.TempDir(), freePort(t), freePort(t), redistest.Site(rs.URL, prefix, hubName, ""))
	b := startCaddyProcess(t, bin, t.TempDir(), freePort(t), freePort(t),
		redistest.Site(rs.URL, prefix, hubName, "\n\t\theartbeat 100ms"))
	sb := openLines(t, b.URL+"/events?topic=t")

	var acked []string
	publish := func(data string) int {
		status, id := publishTo(t, a.URL, data)
		if status == http.StatusOK {
			acked = append(acked, id)
		}
		return status
	}
	for i := range 5 {
		if st := publish(fmt.Sprint("before-", i)); st != http.StatusOK {
			t.Fatalf("publish before the outage: %d", st)
		}
	}
	expectIDs(t, sb, acked)
	before := len(acked)

	rs.Stop()
	// While Redis is down: publishes get 503, B's stream stays open and
	// keeps its heartbeats, and B reports the transport down.
	status, body := publishTo(t, a.URL, "during")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
		t.Fatalf("publish with Redis down: %d %q", status, body)
	}
	pollUntil(t, 10*time.Second, "B reporting Redis unreachable", func() bool { return !redisConnected(t, b) })
	upSample := `caddy_sse_transport_up{hub="` + hubName + `"}`
	if v := metricValue(t, b, upSample); v != "0" {
		t.Errorf("%s = %q during the outage, want 0", upSample, v)
	}
	waitComments(t, sb, 3)

	rs.Start()
	pollUntil(t, 20*time.Second, "publishes accepted again", func() bool {
		return publish("after-first") == http.StatusOK
	})
	for i := range 5 {
		if st := publish(fmt.Sprint("after-", i)); st != http.StatusOK {
			t.Fatalf("publish after the outage: %d", st)
		}
	}
	// Every acknowledged event reaches B once, in order.
	expectIDs(t, sb, acked[before:])
	pollUntil(t, 10*time.Second, "B reporting Redis reachable", func() bool { return redisConnected(t, b) })
	if v := metricValue(t, b, upSample); v != "1" {
		t.Errorf("%s = %q after the outage, want 1", upSample, v)
	}
	for drained := false; !drained; {
		select {
		case line := <-sb.Lines():
			if extra, ok := strings.CutPrefix(line, "id: "); ok {
				if !slices.Contains(acked, extra) {
					t.Fatalf("B got id %s that no publish acknowledged", extra)
				}
				t.Fatalf("B got id %s twice", extra)
			}
		default:
			drained = true
		}
	}
}

// TestRedisExampleTwoInstances runs the README's two-instance setup as
// written: examples/redis/Caddyfile twice, PORT and ADMIN_PORT apart.
func TestRedisExampleTwoInstances(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url) // other runs sharing this Redis must not see the stream
	bin := caddyBinary(t)
	var insts []*caddyProcess
	for range 2 {
		port, admin := freePort(t), freePort(t)
		p := &caddyProcess{bin: bin, dir: t.TempDir(), Admin: fmt.Sprintf("localhost:%d", admin), Port: port,
			URL: fmt.Sprintf("http://localhost:%d", port), log: new(syncBuffer)}
		insts = append(insts, runCaddyProcess(t, p, "examples/redis/Caddyfile",
			fmt.Sprint("PORT=", port), fmt.Sprint("ADMIN_PORT=", admin), "REDIS_URL="+url, "SSE_KEY_PREFIX="+prefix))
	}
	s := openLines(t, insts[1].URL+"/events?topic=t")
	status, id := publishTo(t, insts[0].URL, "hello")
	if status != http.StatusOK {
		t.Fatalf("publish on the first instance: %d %s", status, id)
	}
	expectIDs(t, s, []string{id})
}
