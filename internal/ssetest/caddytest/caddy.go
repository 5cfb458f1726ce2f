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

package caddytest

import (
	"fmt"
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
	"go.uber.org/goleak"
)

// Main runs a package's tests and then fails the run when they left
// goroutines behind, or a Caddy's storage directory. The ignored functions
// are Caddy's and the standard library's process-wide goroutines, which
// start once and live as long as the test binary.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(LeakOptions()...); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	if storageDir != "" {
		os.RemoveAll(storageDir)
	}
	os.Exit(code)
}

// LeakOptions are the goroutines goleak must ignore in a test binary that
// runs Caddy.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*Cache).maintainAssets"),
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
	}
}

// Caddy is a real Caddy running in this process, configured from a
// Caddyfile, listening on loopback.
type Caddy struct {
	T    testing.TB // the test it belongs to
	Port int        // HTTP port, substituted for {PORT} in the Caddyfile
	URL  string     // http://127.0.0.1:Port
}

// Start loads a Caddyfile into Caddy in this process. {PORT} in the
// Caddyfile is replaced by a free port. Global options turning the admin
// endpoint off and keeping storage in a temporary directory are added
// unless the Caddyfile has its own global block. Caddy is stopped when the
// test ends.
func Start(t testing.TB, caddyfile string) *Caddy {
	t.Helper()
	tc := &Caddy{T: t, Port: ssetest.FreePort(t)}
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
func (tc *Caddy) Load(caddyfile string) {
	tc.T.Helper()
	if err := tc.TryLoad(caddyfile); err != nil {
		tc.T.Fatal(err)
	}
}

// TryLoad is Load returning the error instead of failing the test.
func (tc *Caddy) TryLoad(caddyfile string) error {
	cfgJSON, err := Adapt(tc.T, strings.ReplaceAll(caddyfile, "{PORT}", strconv.Itoa(tc.Port)))
	if err != nil {
		return err
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		return err
	}
	// caddy.Load returns while the servers of a replaced config are still
	// shutting down in the background, and until their socket is closed a
	// new connection may be queued on it and then reset. Wait until only
	// the new config listens on the test port, so every test starts
	// talking to the config it loaded.
	if err := AwaitSoleListener(tc.Port, 10*time.Second); err != nil {
		return err
	}
	// A kept-alive connection to a replaced server fails on its next use,
	// and a POST is not retried: start the new config with fresh ones.
	http.DefaultClient.CloseIdleConnections()
	return nil
}

// Global is the global options block Adapt gives a Caddyfile that has
// none: no admin endpoint, no persisted config, the test binary's storage,
// no trust store install, logs discarded. options (option lines at one
// tab's indent, the first without its tab) are added; with a log block of
// their own, logs are not discarded. A test that needs global options of
// its own starts its Caddyfile with it.
func Global(t testing.TB, options string) string {
	b := "{\n\tadmin off\n\tpersist_config off\n\tstorage file_system " + Storage(t) + "\n\tskip_install_trust\n"
	if !strings.Contains(options, "log {") {
		b += "\tlog {\n\t\toutput discard\n\t}\n"
	}
	if options != "" {
		b += "\t" + options + "\n"
	}
	return b + "}\n"
}

// Adapt adapts a Caddyfile to JSON, adding test global options
// when it has no global block of its own.
func Adapt(t testing.TB, caddyfile string) ([]byte, error) {
	if !strings.HasPrefix(strings.TrimSpace(caddyfile), "{") {
		caddyfile = Global(t, "") + caddyfile
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

var storageDir string

// Storage is one directory per test binary for Caddy's storage, so the
// internal CA is created once and tests never touch the real data dir.
func Storage(t testing.TB) string {
	if storageDir == "" {
		dir, err := os.MkdirTemp("", "caddy-sse-test-storage-")
		if err != nil {
			t.Fatal(err)
		}
		storageDir = dir
	}
	return storageDir
}

// Post publishes a body with the given content type and returns status and body.
func (tc *Caddy) Post(path, contentType, body string, header ...string) (int, string) {
	tc.T.Helper()
	status, _, b := ssetest.DoRequest(tc.T, http.MethodPost, tc.URL+path, contentType, body, header...)
	return status, b
}

// PublishForm publishes a form and fails the test unless it gets a 200;
// it returns the event id.
func (tc *Caddy) PublishForm(path string, fields ...string) string {
	tc.T.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(ssetest.QueryEscape(fields[i]) + "=" + ssetest.QueryEscape(fields[i+1]))
	}
	status, body := tc.Post(path, "application/x-www-form-urlencoded", b.String())
	if status != http.StatusOK {
		tc.T.Fatalf("publish %v: status %d: %s", fields, status, body)
	}
	return strings.TrimSpace(body)
}

// Subscribe opens a stream at url (a path is joined to tc.URL) with the
// given request headers (name, value, ...), waits for the response headers
// and starts reading events. The stream is closed when the test ends.
func (tc *Caddy) Subscribe(url string, header ...string) *ssetest.Stream {
	tc.T.Helper()
	if strings.HasPrefix(url, "/") {
		url = tc.URL + url
	}
	return ssetest.SubscribeWith(tc.T, http.DefaultClient, url, header...)
}

// SubscribeLines opens a stream like Subscribe and hands back its lines,
// without terminators, as they arrive. It fails the test unless the
// response is a 200 event stream. The stream is closed when the test ends.
func (tc *Caddy) SubscribeLines(url string, header ...string) *ssetest.LineStream {
	tc.T.Helper()
	if strings.HasPrefix(url, "/") {
		url = tc.URL + url
	}
	return ssetest.OpenLines(tc.T, url, header...)
}
