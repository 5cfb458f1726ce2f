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

// This file is the writing side of a stream: one event-stream response,
// written and flushed through Caddy within write_timeout.

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// smallSend is the most a send may carry for Caddy's write idle timeout
// alone to bound it: net/http buffers at least 2 KiB of an HTTP/1 or
// HTTP/2 response (an encoder in between adds a few bytes), so writing
// this much only fills a buffer and the flush is the one call that can
// block on the client.
const smallSend = 1 << 10

// sendBuffers gather the chunks of a small send into one write.
var sendBuffers = sync.Pool{New: func() any { return new([smallSend]byte) }}

// stream writes to one event-stream response through Caddy's flush
// handling, which reaches through encoders and other wrappers.
//
// Every send must be written and flushed within write_timeout. Caddy
// (2.11 and later, by default) already resets the connection's write
// deadline before each write and each flush through its idle timeout
// writer; a stream lends that writer its write_timeout for the
// duration of the stream, so that a small send, whose only call that can
// block is its flush, is bounded by Caddy's deadline alone and costs no
// deadline of its own. A larger send, a protocol whose writes may block
// (HTTP/3), or a server without the idle writer get a deadline of their
// own around the whole send.
type stream struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	timeout   time.Duration
	deadlines bool            // set a deadline around sends that need one
	idleBound bool            // Caddy's idle writer bounds each write and flush by at most timeout
	restore   func()          // gives Caddy's idle writer its own timeout back
	end       <-chan struct{} // closed when the client left or the handler is stopping
	batch     [][]byte        // reused by sendEvents
}

// openStream sends the event-stream headers. Nothing is flushed until the
// first send, which the caller makes at once. The caller releases the
// stream when it is done with it. A non-empty startID goes out as the
// Last-Event-ID response header too, for clients that read the stream
// with fetch and see headers before the body.
func (h *Handler) openStream(w http.ResponseWriter, r *http.Request, startID string) *stream {
	hdr := w.Header()
	if startID != "" && !strings.ContainsAny(startID, "\r\n\x00") {
		hdr.Set("Last-Event-ID", startID)
	}
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, rc: http.NewResponseController(w), timeout: time.Duration(h.WriteTimeout), deadlines: true}
	_, iw := caddyhttp.IdleTimeoutsFromContext(r.Context())
	if iw == nil {
		// The server's write timeout, if any, is a deadline net/http set
		// when it read the request; the first send replaces it and every
		// send clears its own.
		return st
	}
	// Caddy caps every deadline of its idle writer at the server's write
	// timeout counted from the start of the request, and on HTTP/2 leaves
	// that ceiling armed between writes, where it resets the stream:
	// every stream would end there, mid-stream. A stream lifts the
	// ceiling for good, as write_timeout bounds each of its sends
	// instead; put back, an expired ceiling would only cut the rest of
	// the response, such as the last chunk of HTTP/1.1.
	iw.Deadline.HardDeadline = time.Time{}
	// A minimum rate would make Caddy's deadline count from the start of
	// the stream rather than from each call; a shorter idle timeout of the
	// server or of a timeouts handler stays in force, as it did when it
	// capped the stream's own deadline.
	if r.ProtoMajor <= 2 && iw.Deadline.MinRate == 0 {
		st.restore = iw.Override(min(st.timeout, iw.Deadline.Timeout), 0, 0)
		st.idleBound = true
	}
	return st
}

// release gives back what openStream borrowed.
func (s *stream) release() {
	if s.restore != nil {
		s.restore()
	}
}

// send writes chunks and flushes them within the write timeout. Between
// sends no deadline of the stream's own is left set: HTTP/2 would reset an
// idle stream whose deadline passed, and a server-wide write timeout must
// not end streams.
func (s *stream) send(chunks ...[]byte) error {
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	deadline := s.deadlines && !(s.idleBound && size <= smallSend)
	if deadline {
		if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); errors.Is(err, http.ErrNotSupported) {
			s.deadlines, deadline = false, false
		}
	}
	if err := s.write(chunks, size); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil {
		return err
	}
	if deadline {
		_ = s.rc.SetWriteDeadline(time.Time{})
	}
	return nil
}

// write writes chunks, a small send in one call: each call through
// Caddy's idle writer arms a deadline.
func (s *stream) write(chunks [][]byte, size int) error {
	if len(chunks) > 1 && size <= smallSend {
		buf := sendBuffers.Get().(*[smallSend]byte)
		b := buf[:0]
		for _, c := range chunks {
			b = append(b, c...)
		}
		_, err := s.w.Write(b)
		sendBuffers.Put(buf)
		return err
	}
	for _, c := range chunks {
		if _, err := s.w.Write(c); err != nil {
			return err
		}
	}
	return nil
}
