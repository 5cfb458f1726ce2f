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

package webhook

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
)

// fakeClock is a Clock that moves only when a test advances it. Every
// call of After is reported on asked, in order, so that a test knows
// what the Sender waits for before it advances.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	asked   chan time.Duration
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), asked: make(chan time.Duration, 10000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	c.mu.Unlock()
	c.asked <- d
	return ch
}

// Advance moves the clock and fires the waiters whose time has come.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// nextWait returns the next duration the Sender waits for.
func (c *fakeClock) nextWait(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.asked:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the sender never waited")
		return 0
	}
}

// closeWindow waits for the Sender to open a batch window and closes it.
func (c *fakeClock) closeWindow(t *testing.T) {
	t.Helper()
	if d := c.nextWait(t); d != BatchWindow {
		t.Fatalf("sender waited %v; want the batch window %v", d, BatchWindow)
	}
	c.Advance(BatchWindow)
}

// received is one request as the receiver saw it.
type received struct {
	id, timestamp string
	hub           string
	events        []map[string]any
	raw           string
	status        int // what the receiver answered
}

// receiver is a webhook endpoint on loopback that verifies each request
// as a Standard Webhooks receiver would and answers with answer(n) for
// its nth request (from 0); 0 hangs until the request is cancelled or
// release is closed.
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	key     []byte
	answer  func(n int) int
	release chan struct{}
	got     chan received

	mu   sync.Mutex
	reqs []received
}

// testSecret is a Standard Webhooks secret, as a receiver's library
// would be given it.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(testSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, key: key, answer: answer, release: make(chan struct{}), got: make(chan received, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(func() {
		close(rc.release)
		rc.srv.Close()
	})
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := verifySignature(rc.key, r.Header, body, time.Time{}); err != nil {
		rc.t.Errorf("request does not verify: %v", err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" || r.Method != http.MethodPost {
		rc.t.Errorf("got %s with Content-Type %q; want a POST of application/json", r.Method, ct)
	}
	var payload struct {
		Hub    string           `json:"hub"`
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		rc.t.Errorf("body %q is not the payload: %v", body, err)
	}
	rc.mu.Lock()
	n := len(rc.reqs)
	status := rc.answer(n)
	got := received{id: r.Header.Get(HeaderID), timestamp: r.Header.Get(HeaderTimestamp),
		hub: payload.Hub, events: payload.Events, raw: string(body), status: status}
	rc.reqs = append(rc.reqs, got)
	rc.mu.Unlock()
	rc.got <- got
	if status == 0 {
		select {
		case <-r.Context().Done():
		case <-rc.release:
		}
		return
	}
	w.WriteHeader(status)
}

// next returns the next request the receiver got.
func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case got := <-rc.got:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got no request")
		return received{}
	}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// verifySignature checks a request as a Standard Webhooks receiver does.
var verifySignature = ssetest.VerifyWebhook

// newTestSender starts a Sender to rc on a fake clock; it is closed at
// the end of the test.
func newTestSender(t *testing.T, rc *receiver, opts Options) (*Sender, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	opts.Hub, opts.URL, opts.Clock = "chat", rc.srv.URL, clk
	opts.Secret = rc.key
	if opts.Types == nil {
		opts.Types = Types
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s, clk
}

func always(status int) func(int) int { return func(int) int { return status } }

// topicEvents returns n occupied events of topics t0, t1, ...
func topicEvents(n int, clk *fakeClock) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = TopicEvent(Occupied, "t"+strconv.Itoa(i), clk.Now())
	}
	return out
}

// topicsOf lists the topic of each event of a request.
func topicsOf(got received) []string {
	var out []string
	for _, e := range got.events {
		out = append(out, e["topic"].(string))
	}
	return out
}
