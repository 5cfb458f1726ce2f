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

package ssetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// DoRequest sends one request with the given content type and headers
// (name, value, ...) and returns its status, content type and body.
func DoRequest(t testing.TB, method, url, contentType, body string, header ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// Stream is an open subscription read with sseParser in a goroutine.
type Stream struct {
	t      testing.TB
	Resp   *http.Response
	events chan Event
	errc   chan error
	cancel context.CancelFunc
}

// SubscribeWith opens a stream at url with client and the given request
// headers (name, value, ...) and reads its events in a goroutine; the
// stream is closed when the test ends.
func SubscribeWith(t testing.TB, client *http.Client, url string, header ...string) *Stream {
	t.Helper()
	resp, cancel := GetStream(t, client, url, header...)
	s := &Stream{t: t, Resp: resp, events: make(chan Event, 4096), errc: make(chan error, 1), cancel: cancel}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		s.errc <- fmt.Errorf("status %d: %s", resp.StatusCode, b)
		close(s.events)
		return s
	}
	go func() {
		defer close(s.events)
		p := NewParser(resp.Body)
		for {
			ev, err := p.Next()
			if err != nil {
				s.errc <- err
				return
			}
			s.events <- ev
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// GetStream sends a GET for a stream with the given request headers (name,
// value, ...) and returns the response once its headers arrived, with the
// function that cancels the request.
func GetStream(t testing.TB, client *http.Client, url string, header ...string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("subscribe %s: %v", url, err)
	}
	return resp, cancel
}

// Next returns the next event or fails the test after the timeout.
func (s *Stream) Next(timeout time.Duration) Event {
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
	return Event{}
}

// End waits for the server to end the stream and returns the events that
// came before the end.
func (s *Stream) End(timeout time.Duration) []Event {
	s.t.Helper()
	var evs []Event
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-deadline:
			s.t.Fatalf("stream still open after %v", timeout)
		}
	}
}

// Close ends the subscription from the client side and waits for the
// reader goroutine.
func (s *Stream) Close() {
	s.cancel()
	if s.Resp != nil {
		s.Resp.Body.Close()
	}
	for range s.events {
	}
}

func QueryEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "=", "%3D", " ", "+", "\n", "%0A", "\r", "%0D", "#", "%23")
	return r.Replace(s)
}

// LineStream is an open subscription read line by line, comment lines
// included, for tests that look at the wire format or count heartbeats.
type LineStream struct {
	t      testing.TB
	Resp   *http.Response
	lines  chan string
	cancel context.CancelFunc
}

// OpenLines is SubscribeLines for a full URL, such as one of a Caddy
// process.
func OpenLines(t testing.TB, url string, header ...string) *LineStream {
	t.Helper()
	resp, cancel := GetStream(t, http.DefaultClient, url, header...)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe %s: status %d: %s", url, resp.StatusCode, b)
	}
	s := &LineStream{t: t, Resp: resp, lines: make(chan string, 4096), cancel: cancel}
	go func() {
		defer close(s.lines)
		p := NewParser(resp.Body)
		for {
			line, err := p.ReadLine()
			if err != nil {
				return
			}
			s.lines <- line
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Line returns the next line or fails the test after the timeout.
func (s *LineStream) Line(timeout time.Duration) string {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			s.t.Fatal("stream ended before the expected line")
		}
		return line
	case <-time.After(timeout):
		s.t.Fatalf("no line within %v", timeout)
	}
	return ""
}

// Lines receives the stream's lines as they arrive; it is closed when
// the stream ends.
func (s *LineStream) Lines() <-chan string { return s.lines }

// Close ends the subscription from the client side and waits for the
// reader goroutine.
func (s *LineStream) Close() {
	s.cancel()
	s.Resp.Body.Close()
	for range s.lines {
	}
}
