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
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestLoadAgainstFloor runs the load tool against the floor hub: every
// delivery arrives once and in order, at a rate and as fast as possible,
// single and batched (the floor takes only forms, so batches go to a
// plugin; here a batch of 1 is the form path).
func TestLoadAgainstFloor(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
	srv := httptest.NewServer(newFloorHub())
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
