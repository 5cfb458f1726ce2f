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

package main

import (
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakOptions ignore the idle keep-alive connections of http.Client.
var leakOptions = []goleak.Option{goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop")}

// TestLoadAgainstFloor runs the load tool against the floor hub: every
// delivery arrives once and in order, at a rate and as fast as possible,
// single and batched (the floor takes only forms, so batches go to a
// plugin; here a batch of 1 is the form path).
func TestLoadAgainstFloor(t *testing.T) {
	defer goleak.VerifyNone(t, leakOptions...)
	srv := httptest.NewServer(newFloorServer())
	defer srv.Close()
	for _, c := range []loadConfig{
		{subs: 20, events: 30, rate: 1000, publishers: 1, batch: 1},
		{subs: 20, events: 200, rate: 0, publishers: 4, batch: 1},
	} {
		c.url, c.pubURL, c.topic, c.dialers, c.wait = srv.URL+"/", srv.URL+"/", "bench", 8, 10*time.Second
		res, err := load(c)
		if err != nil {
			t.Fatal(err)
		}
		if res.Missing != 0 || res.Duplicates != 0 || res.OutOfOrder != 0 || res.Delivered != c.subs*c.events {
			t.Fatalf("%+v: got %+v", c, res)
		}
	}
}

// TestLoadRejectsNonStream makes a wrong URL an error, not a silent run
// with no deliveries.
func TestLoadRejectsNonStream(t *testing.T) {
	srv := httptest.NewServer(nil) // 404 for everything
	defer srv.Close()
	_, err := load(loadConfig{url: srv.URL + "/", pubURL: srv.URL + "/", subs: 2, events: 1, rate: 10, publishers: 1, batch: 1, dialers: 2, wait: time.Second, topic: "x"})
	if err == nil {
		t.Fatal("no error for a URL that serves no stream")
	}
}

// TestManyTopics spreads events over many topics with wildcard
// subscribers: each event reaches exactly its topic's subscriber and one
// wildcard subscriber, and the check counts anything else as unexpected.
func TestManyTopics(t *testing.T) {
	defer goleak.VerifyNone(t, leakOptions...)
	srv := httptest.NewServer(newFloorServer())
	defer srv.Close()
	c := loadConfig{url: srv.URL + "/", pubURL: srv.URL + "/", topic: "m", topics: 60, wildcards: 10,
		events: 300, rate: 0, publishers: 2, dialers: 8, wait: 10 * time.Second}
	p := newPlan(c)
	total := 0
	for _, n := range p.expected {
		total += n
	}
	if len(p.selectors) != 70 || total != 2*c.events {
		t.Fatalf("plan: %d subscribers, %d deliveries; want 70, %d", len(p.selectors), total, 2*c.events)
	}
	res, err := load(c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.clean() || res.Delivered != 2*c.events {
		t.Fatalf("got %+v", res)
	}
}

// TestPublishPath measures plain requests and JSON batches' bookkeeping:
// the floor answers /plain, and the load tool counts requests, not events.
func TestPublishPath(t *testing.T) {
	defer goleak.VerifyNone(t, leakOptions...)
	srv := httptest.NewServer(newFloorServer())
	defer srv.Close()
	pr, err := loadPlain(srv.URL+"/plain", 200, 4, os.Getpid(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	if pr.Failures != 0 || pr.RequestsPerS <= 0 {
		t.Fatalf("got %+v", pr)
	}
	res, err := load(loadConfig{url: srv.URL + "/", pubURL: srv.URL + "/", topic: "bench", subs: 1, events: 400,
		rate: 0, publishers: 8, dialers: 1, wait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.clean() || res.PublishesPerS != res.EventsPerS {
		t.Fatalf("got %+v", res)
	}
}

// TestChurn opens and closes subscribers at a rate; the floor's
// goroutines come back to the baseline and every cycle succeeds.
func TestChurn(t *testing.T) {
	defer goleak.VerifyNone(t, leakOptions...)
	srv := httptest.NewServer(newFloorServer())
	defer srv.Close()
	res, err := churn(churnConfig{url: srv.URL + "/", rate: 400, duration: 500 * time.Millisecond,
		warmup: 100 * time.Millisecond, settle: 10 * time.Second, inflight: 16, pid: os.Getpid(),
		goroutinesURL: srv.URL + "/debug/pprof/goroutine?debug=1", label: "churn"})
	if err != nil {
		t.Fatal(err)
	}
	// How many cycles fit in the half second is the machine's speed, for
	// the benchmarks to report; the test needs cycles, none failing.
	if res.Cycles == 0 || res.Failures != 0 || !res.GoroutinesReturned {
		t.Fatalf("got %+v", res)
	}
}
