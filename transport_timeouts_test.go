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

// Transport tests under Caddy's server-wide timeouts (`servers {
// timeouts { … } }`), which apply to every request on the connection and
// must not end streams.

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
	"github.com/quic-go/quic-go/http3"
)

// TestTransportServerWriteTimeout runs a stream for three times a
// server-wide write timeout, over HTTP/1.1, HTTP/2 and HTTP/3, with
// Caddy's write_idle timeout on (its default) and off, and with every
// other server timeout as short: the stream must keep delivering events
// and heartbeats past the server's deadlines, and no drop is counted.
// Caddy caps its idle write deadline at the server's write timeout
// counted from the start of the request (and HTTP/1.1 and HTTP/2 set one
// of their own when the request is read), so a stream that kept that
// ceiling would be cut mid-stream.
func TestTransportServerWriteTimeout(t *testing.T) {
	ssetest.SkipShort(t, ssetest.TierTimeout)
	const serverTimeout = 500 * time.Millisecond
	const (
		write  = "write 500ms"
		noIdle = "write 500ms\n\t\t\twrite_idle -1s"
		every  = "write 500ms\n\t\t\tread_header 500ms\n\t\t\tread_body 500ms\n\t\t\tidle 500ms"
	)
	for _, tt := range []struct {
		name, protocol, timeouts string
	}{
		{"h1", "h1", write},
		{"h1 without write_idle", "h1", noIdle},
		{"h1 every timeout", "h1", every},
		{"h2", "h2", write},
		{"h2 without write_idle", "h2", noIdle},
		{"h2 every timeout", "h2", every},
		{"h3", "h3", write},
		{"h3 every timeout", "h3", every},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sse := `
		hub transport-server-wt
		heartbeat 200ms
		subscribe_allow **
		publish_allow **`
			var client *http.Client
			var url string
			if tt.protocol == "h1" {
				tc := startCaddy(t, serverOptionsCaddyfile(t, "http", "h1", tt.timeouts, sse))
				url = tc.URL
				client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			} else {
				tc := startCaddy(t, serverOptionsCaddyfile(t, "https", "h1 h2 h3", tt.timeouts, sse))
				url = fmt.Sprintf("https://127.0.0.1:%d", tc.Port)
				tlsConfig := &tls.Config{RootCAs: internalCAPool(t)}
				if tt.protocol == "h3" {
					tr := &http3.Transport{TLSClientConfig: tlsConfig}
					t.Cleanup(func() { _ = tr.Close() })
					client = &http.Client{Transport: tr}
				} else {
					tr := &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}
					t.Cleanup(tr.CloseIdleConnections)
					client = &http.Client{Transport: tr}
				}
				waitForTLS(t, client, url)
			}
			hb := pooledHubNamed(t, "transport-server-wt")
			drops := hb.Drops()

			opened := time.Now()
			s := openTap(t, client, url+"/?topic=wt", "")
			if want := map[string]int{"h1": 1, "h2": 2, "h3": 3}[tt.protocol]; s.Resp.ProtoMajor != want {
				t.Fatalf("protocol %s, want HTTP/%d", s.Resp.Proto, want)
			}
			if c := s.Comment(perEventTimeout); c != ":ok" {
				t.Fatalf("first comment = %q, want :ok", c)
			}
			// Each round is an event and the heartbeat after it; the
			// rounds go on until the stream has lived three server
			// timeouts.
			rounds := 0
			for ; rounds < 3 || time.Since(opened) < 3*serverTimeout; rounds++ {
				data := fmt.Sprintf("round %d, %v into the stream", rounds+1, time.Since(opened).Round(time.Millisecond))
				id := publishWith(t, client, url, "topic", "wt", "data", data)
				if ev := s.Next(perEventTimeout); ev.ID != id || ev.Data != data {
					t.Fatalf("round %d: got %+v, want id %q data %q", rounds+1, ev, id, data)
				}
				if c := s.Comment(perEventTimeout); c != ":" {
					t.Fatalf("round %d: comment = %q, want a heartbeat", rounds+1, c)
				}
			}
			t.Logf("%d events and heartbeats over %v", rounds, time.Since(opened).Round(time.Millisecond))
			if n := hb.Stats().Subscribers; n != 1 {
				t.Fatalf("%d subscribers, want the stream still open", n)
			}
			for reason, n := range hb.Drops() {
				if n != drops[reason] {
					t.Errorf("%d drops counted as %s during the stream", n-drops[reason], reason)
				}
			}
		})
	}
}

// TestTransportServerWriteTimeoutStalled checks that lifting the server's
// write timeout leaves write_timeout in force: a client that reads its
// stream past the server's deadline and then stalls is dropped for
// missing write_timeout, once, as in TestTransportWriteTimeout.
func TestTransportServerWriteTimeoutStalled(t *testing.T) {
	const n = 200 // ~12.5 MiB: more than the socket buffers, fewer than the queue
	const serverTimeout = 500 * time.Millisecond
	tc := startCaddy(t, serverOptionsCaddyfile(t, "http", "h1", "write 500ms", `
		hub transport-server-wt-stalled
		buffer 4096
		heartbeat 100ms
		write_timeout 300ms
		subscribe_allow **
		publish_allow **`))
	hb := pooledHubNamed(t, "transport-server-wt-stalled")
	opened := time.Now()
	stalled := rawSubscribe(t, tc.Port, "/?topic=wt")
	// Read heartbeats until the server's write timeout has passed twice,
	// then stop reading.
	if err := stalled.SetReadDeadline(time.Now().Add(perEventTimeout)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(stalled, 16)
	heartbeats := 0
	for heartbeats < 2 || time.Since(opened) < 2*serverTimeout {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream before it stalls: %v", err)
		}
		if line == ":\n" {
			heartbeats++
		}
	}
	drops := hb.Drops()
	for k := 1; k <= n; k++ {
		tc.PublishForm("/", "topic", "wt", "data", bulkData(k))
	}
	pollUntil(t, 5*time.Second, "the stalled subscriber gone", func() bool { return hb.Stats().Subscribers == 0 })
	if d := hb.Stats().Dropped; d != 0 {
		t.Fatalf("hub dropped %d subscribers for a full queue; want write_timeout to end the stream", d)
	}
	if d := hb.Drops()[hub.ReasonWriteTimeout] - drops[hub.ReasonWriteTimeout]; d != 1 {
		t.Fatalf("drops counted as write_timeout: %d, want 1 (all: %v)", d, hb.Drops())
	}
}

// serverOptionsCaddyfile is a site on <scheme>://127.0.0.1:{PORT} (with a
// certificate from Caddy's internal CA for https) served with the given
// protocols and server timeouts, and an sse handler with the given
// options.
func serverOptionsCaddyfile(t testing.TB, scheme, protocols, timeouts, sseOptions string) string {
	tlsInternal := ""
	if scheme == "https" {
		tlsInternal = "\n\ttls internal"
	}
	global := caddytest.Global(t, "auto_https disable_redirects\n\tservers {\n\t\tprotocols "+protocols+
		"\n\t\ttimeouts {\n\t\t\t"+timeouts+"\n\t\t}\n\t}")
	return global + scheme + "://127.0.0.1:{PORT} {" + tlsInternal + `
	sse {` + sseOptions + `
	}
}
`
}
