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

// Transport tests: streams through Caddy's encode handler, over HTTP/2 and
// HTTP/3 with Caddy's internal CA, slow and stalled consumers, and
// goroutines returning to baseline. All of them run a real Caddy in this
// process and talk to it over loopback.

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
	"github.com/klauspost/compress/zstd"
	"github.com/quic-go/quic-go/http3"
)

// perEventTimeout bounds the wait for one event. It is generous: the tests
// prove that each event is flushed on its own, not that it is fast.
const perEventTimeout = 5 * time.Second

// TestTransportEncode subscribes through `encode` and checks that the
// stream is compressed and that every event is flushed through the
// compressor on its own: event k is published only after event k-1 was
// decoded, so an event stuck in a compressor buffer fails the test.
func TestTransportEncode(t *testing.T) {
	for _, tt := range []struct {
		name, encoders, accept string
	}{
		{"gzip of gzip zstd", "gzip zstd", "gzip"},
		{"zstd of gzip zstd", "gzip zstd", "zstd"},
		{"gzip only", "gzip", "gzip"},
		{"zstd only", "zstd", "zstd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	encode `+tt.encoders+`
	sse {
		heartbeat off
		subscribe_allow **
		publish_allow **
	}
}
`)
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			s := openTap(t, client, tc.URL+"/?topic=enc", tt.accept, "Accept-Encoding", tt.accept)
			if got := s.Resp.Header.Get("Content-Encoding"); got != tt.accept {
				t.Fatalf("Content-Encoding = %q, want %q", got, tt.accept)
			}
			if got := s.Resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/event-stream") {
				t.Fatalf("Content-Type = %q", got)
			}
			if c := s.Comment(perEventTimeout); c != ":ok" {
				t.Fatalf("first comment = %q, want :ok (before anything was published)", c)
			}
			for k := 1; k <= 5; k++ {
				data := fmt.Sprintf("event %d through %s", k, tt.accept)
				id := tc.PublishForm("/", "topic", "enc", "data", data)
				ev := s.Next(perEventTimeout)
				if ev.ID != id || ev.Data != data {
					t.Fatalf("event %d = %+v, want id %q data %q", k, ev, id, data)
				}
			}
		})
	}
}

// TestTransportHTTP2 streams over HTTP/2 with TLS from Caddy's internal
// CA. With write_timeout far shorter than the heartbeat, the stream sits
// idle past the write deadline between writes: had the deadline set for a
// write not been cleared after its flush, HTTP/2 would reset the stream
// and neither the heartbeat nor the next event would arrive.
func TestTransportHTTP2(t *testing.T) {
	tc := startCaddy(t, tlsCaddyfile(t, "h1 h2", `
		heartbeat 500ms
		write_timeout 200ms
		subscribe_allow **
		publish_allow **`))
	url := fmt.Sprintf("https://127.0.0.1:%d", tc.Port)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: internalCAPool(t)}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	waitForTLS(t, client, url)

	s := openTap(t, client, url+"/?topic=h2", "")
	if s.Resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", s.Resp.Proto)
	}
	if c := s.Comment(perEventTimeout); c != ":ok" {
		t.Fatalf("first comment = %q, want :ok", c)
	}
	pub := func(data string) {
		t.Helper()
		id := publishWith(t, client, url, "topic", "h2", "data", data)
		if ev := s.Next(perEventTimeout); ev.ID != id || ev.Data != data || len(ev.Topics) != 1 || ev.Topics[0] != "h2" {
			t.Fatalf("got %+v, want id %q data %q", ev, id, data)
		}
	}
	pub("first")
	for range 2 { // two idle periods, each longer than write_timeout
		if c := s.Comment(perEventTimeout); c != ":" {
			t.Fatalf("comment = %q, want a heartbeat", c)
		}
	}
	pub("after idle")
	if c := s.Comment(perEventTimeout); c != ":" {
		t.Fatalf("comment = %q, want a heartbeat", c)
	}
	pub("after another idle")
}

// TestTransportHTTP3 streams over HTTP/3 (QUIC on the same UDP port) with
// the internal CA, and checks that an idle stream survives a write
// timeout shorter than the gap between writes there too.
func TestTransportHTTP3(t *testing.T) {
	tc := startCaddy(t, tlsCaddyfile(t, "h1 h2 h3", `
		heartbeat 500ms
		write_timeout 200ms
		subscribe_allow **
		publish_allow **`))
	url := fmt.Sprintf("https://127.0.0.1:%d", tc.Port)
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: internalCAPool(t)}}
	t.Cleanup(func() { _ = tr.Close() })
	client := &http.Client{Transport: tr}
	waitForTLS(t, client, url)

	s := openTap(t, client, url+"/?topic=h3", "")
	if s.Resp.ProtoMajor != 3 {
		t.Fatalf("protocol %s, want HTTP/3", s.Resp.Proto)
	}
	if c := s.Comment(perEventTimeout); c != ":ok" {
		t.Fatalf("first comment = %q, want :ok", c)
	}
	for k := 1; k <= 3; k++ {
		data := fmt.Sprintf("over quic %d", k)
		id := publishWith(t, client, url, "topic", "h3", "data", data)
		if ev := s.Next(perEventTimeout); ev.ID != id || ev.Data != data {
			t.Fatalf("event %d = %+v, want id %q data %q", k, ev, id, data)
		}
		if c := s.Comment(perEventTimeout); c != ":" {
			t.Fatalf("comment = %q, want a heartbeat", c)
		}
	}
}

// bulkData is a 64 KiB payload that starts with its sequence number.
func bulkData(k int) string {
	prefix := fmt.Sprintf("%06d:", k)
	return prefix + strings.Repeat("x", 64<<10-len(prefix))
}

// TestTransportSlowConsumer fills a stalled client's socket buffers and
// queue: the hub drops it at the first event its full queue cannot take,
// while a fast subscriber of the same topic gets every event in order.
// The dropped client then resumes from the last event it had read and
// gets the rest from history, with no gap and no duplicate.
func TestTransportSlowConsumer(t *testing.T) {
	const n = 300 // ~19 MiB: far more than socket buffers and a queue of 4 hold
	global, logFile := warnLog(t)
	tc := startCaddy(t, global+`http://127.0.0.1:{PORT} {
	sse {
		hub transport-slow
		buffer 4
		heartbeat off
		# Only the full queue may end the stalled stream here, however
		# slow a loaded machine makes the publish loop: a write_timeout it
		# could reach first would race the queue (TestTransportWriteTimeout
		# covers that path).
		write_timeout 10m
		subscribe_allow **
		publish_allow **
	}
}
`)
	hb := pooledHubNamed(t, "transport-slow")
	fast := tc.Subscribe("/?topic=slow")
	slow := rawSubscribe(t, tc.Port, "/?topic=slow")
	pollUntil(t, 5*time.Second, "both subscribers registered", func() bool { return hb.Stats().Subscribers == 2 })

	ids := make([]string, n+1)
	droppedAt := 0
	var droppedTime time.Time
	for k := 1; k <= n; k++ {
		ids[k] = tc.PublishForm("/", "topic", "slow", "data", bulkData(k))
		if ev := fast.Next(perEventTimeout); ev.ID != ids[k] || ev.Data != bulkData(k) {
			t.Fatalf("fast subscriber: event %d has id %q and %d bytes of data, want id %q", k, ev.ID, len(ev.Data), ids[k])
		}
		if droppedAt == 0 && hb.Stats().Dropped == 1 {
			droppedAt, droppedTime = k, time.Now()
		}
	}
	st := hb.Stats()
	if droppedAt == 0 || st.Dropped != 1 || st.Subscribers != 1 {
		t.Fatalf("after %d events: dropped %d, subscribers %d; want the slow one dropped", n, st.Dropped, st.Subscribers)
	}
	t.Logf("slow subscriber dropped at event %d of %d", droppedAt, n)

	evs, err := readRawStream(slow, 15*time.Second)
	if isNetTimeout(err) {
		t.Fatalf("the server did not close the dropped stream: %v", err)
	}
	t.Logf("dropped stream read to its end (%v) %v after the drop, publishing included: %d complete events",
		err, time.Since(droppedTime).Round(time.Millisecond), len(evs))
	if len(evs) == 0 || len(evs) >= droppedAt {
		t.Fatalf("slow client read %d events, want some but fewer than %d", len(evs), droppedAt)
	}
	for i, ev := range evs {
		if ev.ID != ids[i+1] || ev.Data != bulkData(i+1) {
			t.Fatalf("slow client event %d has id %q, want %q", i+1, ev.ID, ids[i+1])
		}
	}

	resumed := tc.Subscribe("/?topic=slow", "Last-Event-ID", evs[len(evs)-1].ID)
	for k := len(evs) + 1; k <= n; k++ {
		if ev := resumed.Next(perEventTimeout); ev.ID != ids[k] || ev.Data != bulkData(k) {
			t.Fatalf("resumed event %d has id %q type %q, want id %q", k, ev.ID, ev.Type, ids[k])
		}
	}
	last := tc.PublishForm("/", "topic", "slow", "data", "live")
	if ev := resumed.Next(perEventTimeout); ev.ID != last {
		t.Fatalf("after the replay: got id %q, want the live event %q", ev.ID, last)
	}
	expectDropLogs(t, logFile, hub.ReasonSlow)
}

// warnLog returns global options that keep the test's Caddy log, from
// WARN up, in a file of the test, and the file's path.
func warnLog(t *testing.T) (global, path string) {
	path = filepath.Join(t.TempDir(), "caddy.log")
	return caddytest.Global(t, "log {\n\t\toutput file "+path+" {\n\t\t\troll_disabled\n\t\t}\n\t\tformat json\n\t\tlevel WARN\n\t}"), path
}

// expectDropLogs waits for the drop log lines of a test's streams and
// checks there is one per drop, with the reasons and fields the README
// promises.
func expectDropLogs(t *testing.T, path string, reasons ...hub.Reason) {
	t.Helper()
	var drops []map[string]any
	read := func() bool {
		drops = drops[:0]
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(fmt.Sprint(entry["msg"]), "subscriber dropped") {
				drops = append(drops, entry)
			}
		}
		return len(drops) >= len(reasons)
	}
	pollUntil(t, 10*time.Second, "the drop log lines", read, func() string { return fmt.Sprint(drops) })
	if len(drops) != len(reasons) {
		t.Fatalf("%d drop log lines, want %d: %v", len(drops), len(reasons), drops)
	}
	for i, d := range drops {
		if d["level"] != "warn" || d["reason"] != string(reasons[i]) || d["hub"] == nil || d["subscriber"] == nil || d["remote"] == nil {
			t.Errorf("drop log line %d: %v, want level warn, reason %s, hub, subscriber and remote", i, d, reasons[i])
		}
	}
}

// TestTransportSlowDropWhileWriteBlocked stalls a client and publishes
// one batch far larger than its socket buffers and queue: the hub drops
// it for a full queue while its writer is blocked, and the blocked write
// then misses write_timeout. That is one drop, counted and logged once as
// slow_consumer, not also as a write timeout (nor, as net/http cancels
// the request on the failed write, lost as a client that left).
func TestTransportSlowDropWhileWriteBlocked(t *testing.T) {
	const n = 100 // 6.4 MiB in one publish
	global, logFile := warnLog(t)
	tc := startCaddy(t, global+`http://127.0.0.1:{PORT} {
	sse {
		hub transport-slow-blocked
		buffer 4
		heartbeat off
		write_timeout 300ms
		max_body_size 16MiB
		subscribe_allow **
		publish_allow **
	}
}
`)
	hb := pooledHubNamed(t, "transport-slow-blocked")
	stalled := rawSubscribe(t, tc.Port, "/?topic=blocked")
	pollUntil(t, 5*time.Second, "the subscriber registered", func() bool { return hb.Stats().Subscribers == 1 })
	batch := make([]map[string]string, n)
	for k := range batch {
		batch[k] = map[string]string{"topic": "blocked", "data": bulkData(k + 1)}
	}
	body, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	if status, b := tc.Post("/", "application/json", string(body)); status != http.StatusOK {
		t.Fatalf("batch publish: %d %.200s", status, b)
	}
	pollUntil(t, 10*time.Second, "the stalled subscriber gone", func() bool { return hb.Stats().Subscribers == 0 })
	expectDropLogs(t, logFile, hub.ReasonSlow)
	drops := hb.Drops()
	if drops[hub.ReasonSlow] != 1 || drops[hub.ReasonWriteTimeout] != 0 || drops[hub.ReasonWriteFailed] != 0 {
		t.Fatalf("drops by reason %v, want one slow_consumer and nothing else", drops)
	}
	stalled.Close()
}

// TestTransportReplayBacklog replays a long history to a client that
// keeps reading, but needs far longer than write_timeout to take all of
// it in: history must go out in bounded writes, each within
// write_timeout, or such a client would be dropped on every reconnect and
// never catch up. A reload during such a replay must end it between two
// writes, with sse.close, rather than hold the reload until it is done.
func TestTransportReplayBacklog(t *testing.T) {
	ssetest.SkipShort(t, ssetest.TierTimeout)
	const n = 300 // ~19 MiB of history, far more than socket buffers hold
	const writeTimeout = 3 * time.Second
	caddyfile := `http://127.0.0.1:{PORT} {
	sse {
		hub transport-backlog
		heartbeat off
		write_timeout 3s
		retry %s
		subscribe_allow **
		publish_allow **
	}
}
`
	tc := startCaddy(t, fmt.Sprintf(caddyfile, "2s"))
	ids := make([]string, n+1)
	for k := 1; k <= n; k++ {
		ids[k] = tc.PublishForm("/", "topic", "backlog", "data", bulkData(k))
	}
	checkReplayed := func(t *testing.T, k int, ev parsedEvent) {
		t.Helper()
		if ev.ID != ids[k] || ev.Data != bulkData(k) {
			t.Fatalf("replayed event %d has id %q and type %q, want id %q", k, ev.ID, ev.Type, ids[k])
		}
	}

	t.Run("slow reader gets it all", func(t *testing.T) {
		start := time.Now()
		p := slowReplay(t, tc.Port, "/?topic=backlog&replay=300")
		for k := 1; k <= n; k++ {
			ev, err := p.Next()
			if err != nil {
				t.Fatalf("replay ended after %d of %d events, %v after it began: %v", k-1, n, time.Since(start).Round(time.Millisecond), err)
			}
			checkReplayed(t, k, ev)
		}
		took := time.Since(start)
		t.Logf("replay of %d events (%d MiB) took %v with write_timeout %v", n, n*len(bulkData(1))>>20, took.Round(time.Millisecond), writeTimeout)
		if took < writeTimeout*3/2 {
			t.Fatalf("the replay took only %v: the client was not slow enough to test anything", took)
		}
	})

	t.Run("reload ends it between writes", func(t *testing.T) {
		p := slowReplay(t, tc.Port, "/?topic=backlog&replay=300")
		k := 1
		for ; k <= 30; k++ {
			ev, err := p.Next()
			if err != nil {
				t.Fatal(err)
			}
			checkReplayed(t, k, ev)
		}
		loaded := make(chan error, 1)
		go func() { loaded <- tc.TryLoad(fmt.Sprintf(caddyfile, "3s")) }()
		for ; ; k++ {
			ev, err := p.Next()
			if err != nil {
				t.Fatalf("stream ended after event %d without sse.close: %v", k-1, err)
			}
			if ev.Type == "sse.close" {
				if ev.Data != `{"reason":"reload"}` || ev.Retry <= 0 || ev.Retry > 1250 {
					t.Fatalf("got %+v, want sse.close for the reload with a short retry", ev)
				}
				break
			}
			checkReplayed(t, k, ev)
		}
		if k > n {
			t.Fatalf("all %d events went out before the reload ended the replay", n)
		}
		if _, err := p.Next(); err != io.EOF {
			t.Fatalf("after sse.close: %v, want the end of the stream", err)
		}
		select {
		case err := <-loaded:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the reload did not finish")
		}
		t.Logf("the reload ended the replay after %d of %d events", k-1, n)

		resumed := tc.Subscribe("/?topic=backlog", "Last-Event-ID", ids[k-1])
		for ; k <= n; k++ {
			checkReplayed(t, k, resumed.Next(perEventTimeout))
		}
	})
}

// slowReplay subscribes at path over a raw connection that reads at most
// 32 KiB every 10ms (about 3 MiB/s) and returns a parser
// of the response body. The body is never closed, which would read the
// stream to its end; closing the connection at cleanup ends it.
func slowReplay(t *testing.T, port int, path string) *sseParser {
	t.Helper()
	conn := rawSubscribe(t, port, path)
	if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	t.Cleanup(tick.Stop)
	slowReader := readerFunc(func(p []byte) (int, error) {
		<-tick.C
		return conn.Read(p[:min(len(p), 32<<10)])
	})
	resp, err := http.ReadResponse(bufio.NewReaderSize(slowReader, 64<<10), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return newSSEParser(resp.Body)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestTransportWriteTimeout stalls a client whose queue never fills: the
// server disconnects it because its write misses write_timeout, not
// because of the queue (the hub's drop counter stays at 0).
func TestTransportWriteTimeout(t *testing.T) {
	const n = 200 // ~12.5 MiB: more than the socket buffers, fewer than the queue
	global, logFile := warnLog(t)
	tc := startCaddy(t, global+`http://127.0.0.1:{PORT} {
	sse {
		hub transport-wt
		buffer 4096
		heartbeat off
		write_timeout 300ms
		subscribe_allow **
		publish_allow **
	}
}
`)
	hb := pooledHubNamed(t, "transport-wt")
	stalled := rawSubscribe(t, tc.Port, "/?topic=wt")
	pollUntil(t, 5*time.Second, "the subscriber registered", func() bool { return hb.Stats().Subscribers == 1 })
	ids := make([]string, n+1)
	for k := 1; k <= n; k++ {
		ids[k] = tc.PublishForm("/", "topic", "wt", "data", bulkData(k))
	}
	published := time.Now()
	pollUntil(t, 5*time.Second, "the stalled subscriber gone", func() bool { return hb.Stats().Subscribers == 0 })
	t.Logf("stalled subscriber removed %v after the last publish", time.Since(published).Round(time.Millisecond))
	if d := hb.Stats().Dropped; d != 0 {
		t.Fatalf("hub dropped %d subscribers for a full queue; want the write timeout to end the stream", d)
	}
	if d := hb.Drops()[hub.ReasonWriteTimeout]; d != 1 {
		t.Fatalf("drops counted as write_timeout: %d, want 1 (all: %v)", d, hb.Drops())
	}
	expectDropLogs(t, logFile, hub.ReasonWriteTimeout)

	evs, err := readRawStream(stalled, 15*time.Second)
	if isNetTimeout(err) {
		t.Fatalf("the server did not close the stalled stream: %v", err)
	}
	if len(evs) == 0 || len(evs) >= n {
		t.Fatalf("stalled client read %d events, want some but fewer than %d", len(evs), n)
	}
	for i, ev := range evs {
		if ev.ID != ids[i+1] {
			t.Fatalf("stalled client event %d has id %q, want %q", i+1, ev.ID, ids[i+1])
		}
	}
}

// TestTransportWriteTimeoutTLS stalls an HTTP/2 and an HTTP/3 client
// (it never reads the body, so flow control stops the server's writes):
// the stream's write deadline works through both protocols' response
// writers and ends the stream, again without the queue filling.
func TestTransportWriteTimeoutTLS(t *testing.T) {
	const n = 200 // ~12.5 MiB: more than the flow-control windows, fewer than the queue
	for _, proto := range []string{"h2", "h3"} {
		t.Run(proto, func(t *testing.T) {
			tc := startCaddy(t, tlsCaddyfile(t, "h1 h2 h3", `
		hub transport-wt-tls
		buffer 4096
		heartbeat off
		write_timeout 300ms
		subscribe_allow **
		publish_allow **`))
			url := fmt.Sprintf("https://127.0.0.1:%d", tc.Port)
			tlsConfig := &tls.Config{RootCAs: internalCAPool(t)}
			var rt http.RoundTripper
			if proto == "h3" {
				tr := &http3.Transport{TLSClientConfig: tlsConfig}
				t.Cleanup(func() { _ = tr.Close() })
				rt = tr
			} else {
				tr := &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}
				t.Cleanup(tr.CloseIdleConnections)
				rt = tr
			}
			client := &http.Client{Transport: rt}
			waitForTLS(t, client, url)
			hb := pooledHubNamed(t, "transport-wt-tls")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/?topic=wt", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close() // never read before the server gives up
			if want := map[string]int{"h2": 2, "h3": 3}[proto]; resp.ProtoMajor != want {
				t.Fatalf("protocol %s, want HTTP/%d", resp.Proto, want)
			}
			pollUntil(t, 5*time.Second, "the subscriber registered", func() bool { return hb.Stats().Subscribers == 1 })
			timeouts := hb.Drops()[hub.ReasonWriteTimeout]
			for k := 1; k <= n; k++ {
				publishWith(t, client, url, "topic", "wt", "data", bulkData(k))
			}
			pollUntil(t, 5*time.Second, "the stalled subscriber gone", func() bool { return hb.Stats().Subscribers == 0 })
			if d := hb.Stats().Dropped; d != 0 {
				t.Fatalf("hub dropped %d subscribers for a full queue; want the write timeout to end the stream", d)
			}
			if d := hb.Drops()[hub.ReasonWriteTimeout] - timeouts; d != 1 {
				t.Fatalf("drops counted as write_timeout: %d, want 1 (all: %v)", d, hb.Drops())
			}
		})
	}
}

// TestTransportGoroutines opens 200 streams and checks that the
// goroutine count returns to what it was before, both when clients close
// their streams and when a reload ends them from the server side.
func TestTransportGoroutines(t *testing.T) {
	const streams = 200
	caddyfile := `http://127.0.0.1:{PORT} {
	sse {
		hub transport-goroutines
		retry %s
		subscribe_allow **
	}
}
`
	tc := startCaddy(t, fmt.Sprintf(caddyfile, "2s"))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	baseline := runtime.NumGoroutine()

	open := func() []*sseStream {
		ss := make([]*sseStream, streams)
		for i := range ss {
			ss[i] = subscribeWith(t, client, fmt.Sprintf("%s/?topic=g/%d", tc.URL, i))
		}
		if n := runtime.NumGoroutine(); n < baseline+streams {
			t.Fatalf("%d goroutines with %d streams open, baseline %d", n, streams, baseline)
		}
		return ss
	}
	backToBaseline := func(what string) {
		t.Helper()
		pollUntil(t, 10*time.Second, "goroutines back to baseline after "+what, func() bool {
			return runtime.NumGoroutine() <= baseline
		})
	}

	for _, s := range open() {
		s.Close()
	}
	backToBaseline("clients closed their streams")

	ss := open()
	tc.Load(fmt.Sprintf(caddyfile, "3s"))
	for i, s := range ss {
		evs := s.End(perEventTimeout)
		if len(evs) != 1 || evs[0].Type != "sse.close" || evs[0].Data != `{"reason":"reload"}` {
			t.Fatalf("stream %d ended with %+v, want one sse.close for the reload", i, evs)
		}
		s.Close()
	}
	backToBaseline("a reload ended the streams")
}

// tapStream is an open subscription whose reader reports comment lines
// as well as events, so that a test can wait for the opening comment or
// a heartbeat, and which can decode a compressed body itself.
type tapStream struct {
	t        testing.TB
	Resp     *http.Response
	events   chan parsedEvent
	comments chan string
	errc     chan error
	cancel   context.CancelFunc
	done     chan struct{}
}

// openTap subscribes at url with client. decoding ("", "gzip" or "zstd")
// names the Content-Encoding the reader undoes; header holds request
// header names and values. The stream is closed when the test ends.
func openTap(t testing.TB, client *http.Client, url, decoding string, header ...string) *tapStream {
	t.Helper()
	resp, cancel := getStream(t, client, url, header...)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe %s: status %d: %s", url, resp.StatusCode, b)
	}
	s := &tapStream{
		t: t, Resp: resp, cancel: cancel,
		events:   make(chan parsedEvent, 1024),
		comments: make(chan string, 1024),
		errc:     make(chan error, 1),
		done:     make(chan struct{}),
	}
	go s.read(decoding)
	t.Cleanup(s.Close)
	return s
}

func (s *tapStream) read(decoding string) {
	defer close(s.done)
	defer close(s.events)
	var body io.Reader = s.Resp.Body
	switch decoding {
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			s.errc <- err
			return
		}
		body = zr
	case "zstd":
		zr, err := zstd.NewReader(body)
		if err != nil {
			s.errc <- err
			return
		}
		defer zr.Close()
		body = zr
	}
	p := newSSEParser(&commentTap{r: bufio.NewReader(body), comments: s.comments, lineStart: true})
	for {
		ev, err := p.Next()
		if err != nil {
			s.errc <- err
			return
		}
		s.events <- ev
	}
}

// Next returns the next event or fails the test after the timeout.
func (s *tapStream) Next(timeout time.Duration) parsedEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatalf("stream ended before the expected event: %v", <-s.errc)
		}
		return ev
	case <-time.After(timeout):
		s.t.Fatalf("no event within %v", timeout)
	}
	return parsedEvent{}
}

// Comment returns the next comment line, without its line ending, or
// fails the test after the timeout.
func (s *tapStream) Comment(timeout time.Duration) string {
	s.t.Helper()
	select {
	case c := <-s.comments:
		return c
	case <-s.done:
		s.t.Fatalf("stream ended before the expected comment: %v", <-s.errc)
	case <-time.After(timeout):
		s.t.Fatalf("no comment within %v", timeout)
	}
	return ""
}

// Close ends the subscription from the client side and waits for the
// reader goroutine.
func (s *tapStream) Close() {
	s.cancel()
	s.Resp.Body.Close()
	for range s.events {
	}
	<-s.done
}

// commentTap passes a stream through line by line and reports each
// comment line as the parser is about to read it.
type commentTap struct {
	r         *bufio.Reader
	comments  chan<- string
	pending   []byte
	lineStart bool
	err       error
}

func (c *commentTap) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		chunk, err := c.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			c.err = err
		}
		if len(chunk) == 0 {
			return 0, c.err
		}
		ended := chunk[len(chunk)-1] == '\n'
		if c.lineStart && ended && chunk[0] == ':' {
			select {
			case c.comments <- strings.TrimRight(string(chunk), "\r\n"):
			default: // nobody is counting comments that far back
			}
		}
		c.lineStart = ended
		c.pending = append(c.pending[:0], chunk...)
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// tlsCaddyfile is a site on https://127.0.0.1:{PORT} with a certificate
// from Caddy's internal CA, served with the given protocols, and an sse
// handler with the given options.
func tlsCaddyfile(t testing.TB, protocols, sseOptions string) string {
	return caddytest.Global(t, "auto_https disable_redirects\n\tservers {\n\t\tprotocols "+protocols+"\n\t}") + `https://127.0.0.1:{PORT} {
	tls internal
	sse {` + sseOptions + `
	}
}
`
}

// internalCAPool trusts the root of Caddy's internal CA in test storage.
func internalCAPool(t testing.TB) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(testStorage(t), "pki", "authorities", "local", "root.crt"))
	if err != nil {
		t.Fatalf("reading the internal CA root: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the internal CA root is not a PEM certificate")
	}
	return pool
}

// waitForTLS waits until url serves a verified TLS handshake: Caddy
// obtains the site certificate in the background after it starts.
func waitForTLS(t testing.TB, client *http.Client, url string) {
	t.Helper()
	var lastErr error
	pollUntil(t, 10*time.Second, "a verified TLS connection", func() bool {
		resp, err := client.Get(url + "/")
		if err != nil {
			lastErr = err
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return true
	}, func() string { return fmt.Sprint(lastErr) })
}

// publishWith publishes a form with client and returns the event id.
func publishWith(t testing.TB, client *http.Client, url string, fields ...string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(urlQueryEscape(fields[i]) + "=" + urlQueryEscape(fields[i+1]))
	}
	resp, err := client.Post(url+"/", "application/x-www-form-urlencoded", strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish: status %d: %s", resp.StatusCode, body)
	}
	return strings.TrimSpace(string(body))
}

// rawSubscribe sends a subscribe request over a plain TCP connection with
// a small receive buffer and reads nothing: a client that has stalled.
func rawSubscribe(t testing.TB, port int, path string) *net.TCPConn {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tcp := conn.(*net.TCPConn)
	if err := tcp.SetReadBuffer(32 << 10); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port); err != nil {
		t.Fatal(err)
	}
	return tcp
}

// readRawStream reads a raw subscription's response to its end and
// returns the complete events in it and the error that ended it (io.EOF,
// io.ErrUnexpectedEOF or a reset when the server closed the connection).
func readRawStream(conn net.Conn, timeout time.Duration) ([]parsedEvent, error) {
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var evs []parsedEvent
	p := newSSEParser(resp.Body)
	for {
		ev, err := p.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// pooledHubNamed returns the hub of that name from the pool shared by the
// running config's handlers.
func pooledHubNamed(t testing.TB, name string) *hub.Hub {
	t.Helper()
	var hb *hub.Hub
	hubs.Range(func(key, val any) bool {
		if key == name {
			hb = val.(*pooledHub).Hub
			return false
		}
		return true
	})
	if hb == nil {
		t.Fatalf("no hub %q in the pool", name)
	}
	return hb
}
