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
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults and the fixed limits of delivery (SPEC §13).
const (
	DefaultTimeout = 5 * time.Second // per attempt
	DefaultQueue   = 10000           // events waiting

	MaxBatch    = 100            // events in one request
	BatchWindow = time.Second    // how long a batch gathers events after its first
	MaxAge      = 24 * time.Hour // a batch that fails this old is given up

	firstBackoff = 500 * time.Millisecond
	maxBackoff   = 60 * time.Second
)

// Clock is a Sender's time: real by default, a fake one in tests, so
// that batching windows, backoff and the 24 h limit are tested without
// waiting. After must not block.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure a Sender; Config.Options derives them from the
// configuration.
type Options struct {
	Hub     string        // the hub's name, in every body
	URL     string        // absolute http or https URL
	Secret  []byte        // the HMAC key, at least 24 bytes
	Types   []Type        // the types to send; others are ignored
	Timeout time.Duration // per attempt
	Queue   int           // events waiting, at most
	Logger  *zap.Logger
	Clock   Clock // nil is the real clock
}

// Stats are a Sender's counters, per event.
type Stats struct {
	Delivered uint64 // accepted by the receiver (2xx)
	Dropped   uint64 // evicted from a full queue
	Failed    uint64 // given up: refused (4xx other than 408, 429) or failing at 24 h
	Queued    int    // waiting, the batch being sent included
}

// Sender sends a hub's events to one URL. Enqueue never blocks; one
// goroutine batches the queue and delivers the batches in order.
type Sender struct {
	hub       string
	url       string
	logURL    string // without query: a query may hold a token
	secret    []byte
	types     uint8 // Type.bit of each type sent
	timeout   time.Duration
	max       int
	log       *zap.Logger
	clock     Clock
	jitter    func(time.Duration) time.Duration // tests make it predictable
	client    *http.Client
	transport *http.Transport

	mu       sync.Mutex
	buf      []Event // ring of the queue, grown up to max
	head, n  int
	inflight int // events of the batch being delivered

	wake      chan struct{} // an event was queued
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	delivered atomic.Uint64
	dropped   atomic.Uint64
	failed    atomic.Uint64
}

// New starts a Sender. It makes no request until an event is queued.
func New(opts Options) *Sender {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	s := &Sender{
		hub: opts.Hub, url: opts.URL, logURL: stripQuery(opts.URL), secret: opts.Secret,
		timeout: opts.Timeout, max: opts.Queue, log: opts.Logger, clock: opts.Clock, jitter: equalJitter,
		transport: transport,
		client: &http.Client{
			Transport: transport,
			// The URL is static configuration: a receiver must not steer
			// signed events elsewhere. A redirect is an answer like any
			// other non-2xx.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	for _, t := range opts.Types {
		s.types |= t.bit()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s
}

// Wants reports whether the Sender sends events of type t, so that a
// caller can skip building an event nobody sends.
func (s *Sender) Wants(t Type) bool { return s != nil && s.types&t.bit() != 0 }

// Enqueue queues e for delivery, unless its type is not sent. It never
// blocks: when the queue is full, the oldest waiting event is dropped and
// counted.
func (s *Sender) Enqueue(e Event) {
	if !s.Wants(e.Type) {
		return
	}
	s.mu.Lock()
	if s.n == s.max {
		s.buf[s.head] = Event{}
		s.head = (s.head + 1) % len(s.buf)
		s.n--
		s.dropped.Add(1)
	}
	if s.n == len(s.buf) {
		s.grow()
	}
	s.buf[(s.head+s.n)%len(s.buf)] = e
	s.n++
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// grow enlarges the full ring, up to max: a quiet hub does not hold a
// ring of 10,000 events.
func (s *Sender) grow() {
	size := min(max(2*len(s.buf), 64), s.max)
	buf := make([]Event, size)
	for i := range s.n {
		buf[i] = s.buf[(s.head+i)%len(s.buf)]
	}
	s.buf, s.head = buf, 0
}

// take removes up to MaxBatch events from the front of the queue; the
// caller holds mu.
func (s *Sender) take() []Event {
	k := min(s.n, MaxBatch)
	out := make([]Event, k)
	for i := range out {
		j := (s.head + i) % len(s.buf)
		out[i], s.buf[j] = s.buf[j], Event{}
	}
	s.head = (s.head + k) % len(s.buf)
	s.n -= k
	s.inflight = k
	return out
}

// Stats returns the Sender's counters.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	queued := s.n + s.inflight
	s.mu.Unlock()
	return Stats{Delivered: s.delivered.Load(), Dropped: s.dropped.Load(), Failed: s.failed.Load(), Queued: queued}
}

// Close stops the Sender at once, an attempt in flight included, and
// waits for its goroutine; events not yet delivered are lost (and
// logged). A hanging receiver does not delay it.
func (s *Sender) Close() {
	s.cancel()
	<-s.done
	s.transport.CloseIdleConnections()
	if st := s.Stats(); st.Queued > 0 {
		s.log.Warn("webhook closed with events not delivered",
			zap.String("hub", s.hub), zap.String("url", s.logURL), zap.Int("events", st.Queued))
	}
}

// run gathers batches and delivers them, one after the other, until Close.
func (s *Sender) run() {
	defer close(s.done)
	for {
		batch, ok := s.gather()
		if !ok {
			return
		}
		s.deliver(batch)
		s.mu.Lock()
		s.inflight = 0
		s.mu.Unlock()
	}
}

// gather waits for the next batch: MaxBatch events, or those that came
// within BatchWindow of the first. It returns false when the Sender is
// closed.
func (s *Sender) gather() ([]Event, bool) {
	var window <-chan time.Time
	windowOver := false
	for {
		s.mu.Lock()
		if s.n >= MaxBatch || (s.n > 0 && windowOver) {
			batch := s.take()
			s.mu.Unlock()
			return batch, true
		}
		waiting := s.n > 0
		s.mu.Unlock()
		if waiting && window == nil {
			window = s.clock.After(BatchWindow)
		}
		select {
		case <-s.ctx.Done():
			return nil, false
		case <-s.wake:
		case <-window:
			windowOver = true
		}
	}
}
