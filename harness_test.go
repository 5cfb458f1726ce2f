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

// This file holds what the tests share: a spec-faithful event-stream
// parser, a real Caddy started in this process from a Caddyfile, and an
// SSE client that reads from it over loopback.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// The WHATWG event-stream parser is shared with the other packages' tests.
type (
	parsedEvent = ssetest.Event
	sseParser   = ssetest.Parser
)

var newSSEParser = ssetest.NewParser

// testCaddy is a real Caddy running in this process, configured from a
// Caddyfile, listening on loopback.
type testCaddy struct {
	t    testing.TB
	Port int    // HTTP port, substituted for {PORT} in the Caddyfile
	URL  string // http://127.0.0.1:Port
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startCaddy loads a Caddyfile into Caddy in this process. {PORT} in the
// Caddyfile is replaced by a free port. Global options turning the admin
// endpoint off and keeping storage in a temporary directory are added
// unless the Caddyfile has its own global block. Caddy is stopped when the
// test ends.
func startCaddy(t testing.TB, caddyfile string) *testCaddy {
	t.Helper()
	tc := &testCaddy{t: t, Port: freePort(t)}
	tc.URL = fmt.Sprintf("http://127.0.0.1:%d", tc.Port)
	tc.Load(caddyfile)
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping caddy: %v", err)
		}
	})
	return tc
}

// Load replaces the running config (a reload when one is running).
func (tc *testCaddy) Load(caddyfile string) {
	tc.t.Helper()
	if err := tc.TryLoad(caddyfile); err != nil {
		tc.t.Fatal(err)
	}
}

// TryLoad is Load returning the error instead of failing the test.
func (tc *testCaddy) TryLoad(caddyfile string) error {
	cfgJSON, err := adaptCaddyfile(tc.t, strings.ReplaceAll(caddyfile, "{PORT}", strconv.Itoa(tc.Port)))
	if err != nil {
		return err
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		return err
	}
	// caddy.Load returns while the servers of a replaced config are still
	// shutting down in the background, and until they are gone a new
	// connection may reach them. Wait until only the new config uses the
	// test port, so every test starts talking to the config it loaded.
	addr := ":" + strconv.Itoa(tc.Port)
	for deadline := time.Now().Add(10 * time.Second); caddy.ListenerUsage("tcp", addr) > 1; {
		if time.Now().After(deadline) {
			return fmt.Errorf("the replaced config still holds %s after 10s", addr)
		}
		time.Sleep(time.Millisecond) // polling a condition, not waiting for one
	}
	// A kept-alive connection to a replaced server fails on its next use,
	// and a POST is not retried: start the new config with fresh ones.
	http.DefaultClient.CloseIdleConnections()
	return nil
}

// adaptCaddyfile adapts a Caddyfile to JSON, adding test global options
// when it has no global block of its own.
func adaptCaddyfile(t testing.TB, caddyfile string) ([]byte, error) {
	if !strings.HasPrefix(strings.TrimSpace(caddyfile), "{") {
		caddyfile = "{\n\tadmin off\n\tpersist_config off\n\tstorage file_system " + testStorage(t) + "\n\tskip_install_trust\n\tlog {\n\t\toutput discard\n\t}\n}\n" + caddyfile
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	if !strings.HasSuffix(caddyfile, "\n") {
		caddyfile += "\n" // the adapter warns about unformatted input otherwise
	}
	cfgJSON, warnings, err := adapter.Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return nil, fmt.Errorf("adapting Caddyfile: %v", err)
	}
	for _, w := range warnings {
		t.Logf("Caddyfile warning: %s", w.String())
	}
	return cfgJSON, nil
}

var testStorageDir string

// testStorage is one directory per test binary for Caddy's storage, so the
// internal CA is created once and tests never touch the real data dir.
func testStorage(t testing.TB) string {
	if testStorageDir == "" {
		dir, err := os.MkdirTemp("", "caddy-sse-test-storage-")
		if err != nil {
			t.Fatal(err)
		}
		testStorageDir = dir
	}
	return testStorageDir
}

// Post publishes a body with the given content type and returns status and body.
func (tc *testCaddy) Post(path, contentType, body string, header ...string) (int, string) {
	tc.t.Helper()
	status, _, b := doRequest(tc.t, http.MethodPost, tc.URL+path, contentType, body, header...)
	return status, b
}

// doRequest sends one request with the given content type and headers
// (name, value, ...) and returns its status, content type and body.
func doRequest(t testing.TB, method, url, contentType, body string, header ...string) (int, string, string) {
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

// PublishForm publishes a form and fails the test unless it gets a 200;
// it returns the event id.
func (tc *testCaddy) PublishForm(path string, fields ...string) string {
	tc.t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(urlQueryEscape(fields[i]) + "=" + urlQueryEscape(fields[i+1]))
	}
	status, body := tc.Post(path, "application/x-www-form-urlencoded", b.String())
	if status != http.StatusOK {
		tc.t.Fatalf("publish %v: status %d: %s", fields, status, body)
	}
	return strings.TrimSpace(body)
}

// sseStream is an open subscription read with sseParser in a goroutine.
type sseStream struct {
	t      testing.TB
	Resp   *http.Response
	events chan parsedEvent
	errc   chan error
	cancel context.CancelFunc
}

// Subscribe opens a stream at url (a path is joined to tc.URL) with the
// given request headers (name, value, ...), waits for the response headers
// and starts reading events. The stream is closed when the test ends.
func (tc *testCaddy) Subscribe(url string, header ...string) *sseStream {
	tc.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = tc.URL + url
	}
	return subscribeWith(tc.t, http.DefaultClient, url, header...)
}

func subscribeWith(t testing.TB, client *http.Client, url string, header ...string) *sseStream {
	t.Helper()
	resp, cancel := getStream(t, client, url, header...)
	s := &sseStream{t: t, Resp: resp, events: make(chan parsedEvent, 4096), errc: make(chan error, 1), cancel: cancel}
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
		p := newSSEParser(resp.Body)
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

// getStream sends a GET for a stream with the given request headers (name,
// value, ...) and returns the response once its headers arrived, with the
// function that cancels the request.
func getStream(t testing.TB, client *http.Client, url string, header ...string) (*http.Response, context.CancelFunc) {
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
func (s *sseStream) Next(timeout time.Duration) parsedEvent {
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

// End waits for the server to end the stream and returns the events that
// came before the end.
func (s *sseStream) End(timeout time.Duration) []parsedEvent {
	s.t.Helper()
	var evs []parsedEvent
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
func (s *sseStream) Close() {
	s.cancel()
	if s.Resp != nil {
		s.Resp.Body.Close()
	}
	for range s.events {
	}
}

func urlQueryEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "=", "%3D", " ", "+", "\n", "%0A", "\r", "%0D", "#", "%23")
	return r.Replace(s)
}

// lineStream is an open subscription read line by line, comment lines
// included, for tests that look at the wire format or count heartbeats.
type lineStream struct {
	t      testing.TB
	Resp   *http.Response
	lines  chan string
	cancel context.CancelFunc
}

// SubscribeLines opens a stream like Subscribe and hands back its lines,
// without terminators, as they arrive. It fails the test unless the
// response is a 200 event stream. The stream is closed when the test ends.
func (tc *testCaddy) SubscribeLines(url string, header ...string) *lineStream {
	tc.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = tc.URL + url
	}
	return openLines(tc.t, url, header...)
}

// openLines is SubscribeLines for a full URL, such as one of a Caddy
// process.
func openLines(t testing.TB, url string, header ...string) *lineStream {
	t.Helper()
	resp, cancel := getStream(t, http.DefaultClient, url, header...)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe %s: status %d: %s", url, resp.StatusCode, b)
	}
	s := &lineStream{t: t, Resp: resp, lines: make(chan string, 4096), cancel: cancel}
	go func() {
		defer close(s.lines)
		p := newSSEParser(resp.Body)
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
func (s *lineStream) Line(timeout time.Duration) string {
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

// Close ends the subscription from the client side and waits for the
// reader goroutine.
func (s *lineStream) Close() {
	s.cancel()
	s.Resp.Body.Close()
	for range s.lines {
	}
}
