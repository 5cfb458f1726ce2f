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
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// TestTransportServerWriteTimeout runs a stream for three times a
// server-wide write timeout, over HTTP/1.1, HTTP/2 and HTTP/3, with
// Caddy's write_idle timeout on (its default) and off: the stream must
// keep delivering events and heartbeats past the server's deadline, and
// no drop is counted. Caddy caps its idle write deadline at the server's
// write timeout counted from the start of the request (and HTTP/1.1 and
// HTTP/2 set one of their own when the request is read), so a stream
// that kept that ceiling would be cut mid-stream at 1s.
func TestTransportServerWriteTimeout(t *testing.T) {
	const serverWrite = time.Second
	for _, tt := range []struct {
		name, protocol, timeouts string
	}{
		{"h1", "h1", "write 1s"},
		{"h1 without write_idle", "h1", "write 1s\n\t\t\twrite_idle -1s"},
		{"h2", "h2", "write 1s"},
		{"h2 without write_idle", "h2", "write 1s\n\t\t\twrite_idle -1s"},
		{"h3", "h3", "write 1s"},
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
			// rounds go on until the stream has lived three server write
			// timeouts.
			rounds := 0
			for ; rounds < 3 || time.Since(opened) < 3*serverWrite; rounds++ {
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

// serverOptionsCaddyfile is a site on <scheme>://127.0.0.1:{PORT} (with a
// certificate from Caddy's internal CA for https) served with the given
// protocols and server timeouts, and an sse handler with the given
// options.
func serverOptionsCaddyfile(t testing.TB, scheme, protocols, timeouts, sseOptions string) string {
	tlsInternal := ""
	if scheme == "https" {
		tlsInternal = "\n\ttls internal"
	}
	return fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
	skip_install_trust
	auto_https disable_redirects
	log {
		output discard
	}
	servers {
		protocols %s
		timeouts {
			%s
		}
	}
}
%s://127.0.0.1:{PORT} {%s
	sse {%s
	}
}
`, testStorage(t), protocols, timeouts, scheme, tlsInternal, sseOptions)
}
