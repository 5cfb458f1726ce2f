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
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// BenchmarkStreamSend writes and flushes one small event per op to a
// client reading over loopback HTTP/1.1, the write path of every
// delivery:
//   - bare: net/http's writer alone; the stream sets and clears a
//     deadline of its own around each send.
//   - idle-writer/own-deadline: behind Caddy's write idle timeout writer
//     (on by default since Caddy 2.11), still with the stream's own
//     deadline: how every send was made before the stream lent Caddy's
//     writer its write_timeout.
//   - idle-writer: behind Caddy's writer, its deadline bounding the send.
func BenchmarkStreamSend(b *testing.B) {
	ev := []byte("id: m3k9q2x1ab7c-42\ntopic: bench\ndata: 1795546564204684000\n\n")
	cases := []struct {
		name        string
		idleWriter  bool
		ownDeadline bool
	}{
		{"bare", false, true},
		{"idle-writer/own-deadline", true, true},
		{"idle-writer", true, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.idleWriter {
					iw := &caddyhttp.IdleTimeoutWriter{
						ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w},
						Ctrl:                  http.NewResponseController(w),
						Deadline:              caddyhttp.IdleDeadline{Start: time.Now(), Timeout: time.Minute},
						Logger:                zap.NewNop(),
					}
					defer iw.HandlerDone()
					w = iw
					r = r.WithContext(caddyhttp.ContextWithIdleTimeouts(r.Context(), nil, iw))
				}
				h := &Handler{WriteTimeout: caddy.Duration(10 * time.Second)}
				st := h.openStream(w, r, "")
				defer st.release()
				if c.ownDeadline {
					st.idleBound = false
				}
				if err := st.send(streamOpening); err != nil {
					return
				}
				for range b.N {
					if err := st.send(ev); err != nil {
						return
					}
				}
			}))
			defer srv.Close()
			b.ReportAllocs()
			b.SetBytes(int64(len(ev)))
			b.ResetTimer()
			resp, err := http.Get(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			b.StopTimer()
			if err != nil || n != int64(len(streamOpening))+int64(b.N)*int64(len(ev)) {
				b.Fatalf("read %d bytes (%v), want %d", n, err, len(streamOpening)+b.N*len(ev))
			}
		})
	}
}
