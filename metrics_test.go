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
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
)

// scrape reads the admin endpoint's /metrics and returns the caddy_sse_
// samples by their name and labels as written, e.g.
// `caddy_sse_events_published_total{hub="m"}`. A sample seen twice fails
// the test: it would mean two collectors report the same hub.
func (ac *adminCaddy) scrape() map[string]float64 {
	ac.T.Helper()
	status, _, body := ac.Do(http.MethodGet, "/metrics", "", "")
	if status != http.StatusOK {
		ac.T.Fatalf("GET /metrics: %d %s", status, body)
	}
	samples := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "caddy_sse_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			ac.T.Fatalf("metric line %q: %v", line, err)
		}
		if _, dup := samples[line[:i]]; dup {
			ac.T.Fatalf("metric %s reported twice", line[:i])
		}
		samples[line[:i]] = v
	}
	return samples
}

// wantMetrics fails the test unless each named sample has its value,
// polling briefly: deliveries are counted once the write returned.
func (ac *adminCaddy) wantMetrics(want map[string]float64) map[string]float64 {
	ac.T.Helper()
	var got map[string]float64
	pollUntil(ac.T, 5*time.Second, "the metrics", func() bool {
		got = ac.scrape()
		for name, v := range want {
			if got[name] != v {
				return false
			}
		}
		return true
	}, func() string {
		var b strings.Builder
		for name, v := range want {
			fmt.Fprintf(&b, "\n%s = %v, want %v", name, got[name], v)
		}
		return b.String()
	})
	return got
}

const metricsSites = `http://127.0.0.1:{PORT} {
	sse /m {
		hub m
		subscribe_allow **
		publish_allow **
	}
	sse /n {
		hub n
		subscribe_allow **
		publish_allow **
		max_subscribers 1
	}
}
`

// TestMetrics scrapes /metrics before and after the test publishes,
// subscribes, replays, disconnects and is turned away at capacity, and
// checks the values that moved. Two handlers register the collector in
// one config: the second finds it registered.
func TestMetrics(t *testing.T) {
	ac := startAdminCaddy(t, metricsSites)
	before := ac.scrape()
	for _, name := range []string{
		`caddy_sse_subscribers{hub="m"}`, `caddy_sse_events_published_total{hub="m"}`,
		`caddy_sse_events_delivered_total{hub="m"}`, `caddy_sse_events_replayed_total{hub="m"}`,
		`caddy_sse_subscribers_dropped_total{hub="m",reason="slow_consumer"}`,
		`caddy_sse_publish_duration_seconds_count{hub="m"}`, `caddy_sse_subscribers{hub="n"}`,
	} {
		if v, ok := before[name]; !ok || v != 0 {
			t.Errorf("before anything happened: %s = %v (present %v), want 0", name, v, ok)
		}
	}

	ac.PublishForm("/m", "topic", "a", "data", "1")
	ac.PublishForm("/m", "topic", "a", "data", "2")
	s := ac.Subscribe("/m?topic=a&replay=1")
	s.Next(perEventTimeout)
	ac.PublishForm("/m", "topic", "a", "data", "3")
	s.Next(perEventTimeout)
	ac.wantMetrics(map[string]float64{
		`caddy_sse_subscribers{hub="m"}`:                               1,
		`caddy_sse_events_published_total{hub="m"}`:                    3,
		`caddy_sse_events_delivered_total{hub="m"}`:                    2,
		`caddy_sse_events_replayed_total{hub="m"}`:                     1,
		`caddy_sse_publish_duration_seconds_count{hub="m"}`:            3,
		`caddy_sse_publish_duration_seconds_bucket{hub="m",le="+Inf"}`: 3,
	})

	var subs []hub.SubscriberInfo
	ac.GetJSON("/sse/hubs/m/subscribers", &subs)
	if status, _, body := ac.Do(http.MethodDelete, fmt.Sprintf("/sse/hubs/m/subscribers/%d", subs[0].ID), "", ""); status != http.StatusOK {
		t.Fatalf("disconnect: %d %s", status, body)
	}
	s.End(perEventTimeout)
	n1 := ac.Subscribe("/n?topic=a")
	n2 := ac.Subscribe("/n?topic=a") // turned away: max_subscribers 1
	if evs := n2.End(perEventTimeout); len(evs) != 1 || evs[0].Data != `{"reason":"capacity"}` {
		t.Fatalf("second stream of hub n: %+v", evs)
	}
	got := ac.wantMetrics(map[string]float64{
		`caddy_sse_subscribers{hub="m"}`:                                      0,
		`caddy_sse_subscribers{hub="n"}`:                                      1,
		`caddy_sse_subscribers_dropped_total{hub="m",reason="disconnected"}`:  1,
		`caddy_sse_subscribers_dropped_total{hub="n",reason="capacity"}`:      1,
		`caddy_sse_subscribers_dropped_total{hub="m",reason="slow_consumer"}`: 0,
	})
	if sum := got[`caddy_sse_publish_duration_seconds_sum{hub="m"}`]; sum <= 0 || sum > 10 {
		t.Errorf("publish duration sum %v", sum)
	}
	n1.Close()
}

// TestMetricsReload reloads the config (Caddy builds a new metrics
// registry): /metrics still answers without a duplicate-registration
// error, each hub is reported once, and the counts carried over.
func TestMetricsReload(t *testing.T) {
	ac := startAdminCaddy(t, metricsSites)
	for k := range 3 {
		ac.PublishForm("/m", "topic", "a", "data", fmt.Sprint(k))
	}
	ac.wantMetrics(map[string]float64{`caddy_sse_events_published_total{hub="m"}`: 3})

	admin := strings.TrimPrefix(ac.Admin, "http://")
	for round, change := range []string{"heartbeat 5s", "heartbeat 6s"} {
		ac.Load(adminGlobal(t, admin) + strings.Replace(metricsSites, "hub m", "hub m\n\t\t"+change, 1))
		http.DefaultClient.CloseIdleConnections() // the replaced servers closed them
		ac.PublishForm("/m", "topic", "a", "data", "after reload")
		got := ac.wantMetrics(map[string]float64{
			`caddy_sse_events_published_total{hub="m"}`:         float64(4 + round),
			`caddy_sse_publish_duration_seconds_count{hub="m"}`: float64(4 + round),
			`caddy_sse_events_published_total{hub="n"}`:         0,
		})
		if _, ok := got[`caddy_sse_subscribers{hub="m"}`]; !ok {
			t.Fatalf("after reload %d: no subscribers gauge", round+1)
		}
	}
}
