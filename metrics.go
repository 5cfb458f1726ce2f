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
	"errors"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/prometheus/client_golang/prometheus"
)

// The metrics are read from the hubs' own counters when Prometheus
// scrapes: Caddy builds a new registry on every config load, while hubs
// and their counts survive reloads in the hub pool, so a collector that
// reads the pool is valid in whichever registry serves /metrics.
var (
	subscribersDesc = prometheus.NewDesc("caddy_sse_subscribers",
		"Open event streams of the hub.", []string{"hub"}, nil)
	publishedDesc = prometheus.NewDesc("caddy_sse_events_published_total",
		"Events stored by the hub.", []string{"hub"}, nil)
	deliveredDesc = prometheus.NewDesc("caddy_sse_events_delivered_total",
		"Events written to subscribers, replays included.", []string{"hub"}, nil)
	droppedDesc = prometheus.NewDesc("caddy_sse_subscribers_dropped_total",
		"Streams the server ended, or turned away, by reason.", []string{"hub", "reason"}, nil)
	replayedDesc = prometheus.NewDesc("caddy_sse_events_replayed_total",
		"Events replayed from history to resuming or replaying subscribers.", []string{"hub"}, nil)
	publishDurationDesc = prometheus.NewDesc("caddy_sse_publish_duration_seconds",
		"Time the hub took to store a publish and queue it for every subscriber.", []string{"hub"}, nil)
	transportUpDesc = prometheus.NewDesc("caddy_sse_transport_up",
		"1 when the hub's last exchange with its transport's store (Redis) succeeded; absent for memory.", []string{"hub"}, nil)
	transportLagDesc = prometheus.NewDesc("caddy_sse_transport_lag_seconds",
		"Age of the newest event the hub's stream reader had read at its last read.", []string{"hub"}, nil)
	webhookEventsDesc = prometheus.NewDesc("caddy_sse_webhook_events_total",
		"Webhook events by result: delivered, dropped (evicted from a full queue) or failed (given up).", []string{"hub", "result"}, nil)
	webhookQueueDesc = prometheus.NewDesc("caddy_sse_webhook_queue",
		"Webhook events waiting to be delivered, those being sent included; absent for a hub without webhooks.", []string{"hub"}, nil)
)

// hubCollector exports the counters of every hub in the pool.
type hubCollector struct{}

// Describe implements prometheus.Collector.
func (hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{subscribersDesc, publishedDesc, deliveredDesc, droppedDesc, replayedDesc, publishDurationDesc,
		transportUpDesc, transportLagDesc, webhookEventsDesc, webhookQueueDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (hubCollector) Collect(ch chan<- prometheus.Metric) {
	for _, hb := range pooledHubs() {
		st := hb.Stats()
		name := st.Name
		ch <- prometheus.MustNewConstMetric(subscribersDesc, prometheus.GaugeValue, float64(st.Subscribers), name)
		ch <- prometheus.MustNewConstMetric(publishedDesc, prometheus.CounterValue, float64(st.Published), name)
		ch <- prometheus.MustNewConstMetric(deliveredDesc, prometheus.CounterValue, float64(st.Delivered), name)
		ch <- prometheus.MustNewConstMetric(replayedDesc, prometheus.CounterValue, float64(st.Replayed), name)
		drops := hb.Drops()
		for _, reason := range hub.DropReasons {
			ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(drops[reason]), name, string(reason))
		}
		count, sum, buckets := hb.PublishLatency()
		ch <- prometheus.MustNewConstHistogram(publishDurationDesc, count, sum, buckets, name)
		if ts := st.Transport; ts != nil {
			up := 0.0
			if ts.Connected {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(transportUpDesc, prometheus.GaugeValue, up, name)
			ch <- prometheus.MustNewConstMetric(transportLagDesc, prometheus.GaugeValue, float64(ts.LagMillis)/1000, name)
		}
		if ws, ok := hb.webhookStats(); ok {
			for result, n := range map[string]uint64{"delivered": ws.Delivered, "dropped": ws.Dropped, "failed": ws.Failed} {
				ch <- prometheus.MustNewConstMetric(webhookEventsDesc, prometheus.CounterValue, float64(n), name, result)
			}
			ch <- prometheus.MustNewConstMetric(webhookQueueDesc, prometheus.GaugeValue, float64(ws.Queued), name)
		}
	}
}

// registerMetrics adds the hub collector to a config's registry. Every
// handler of a config calls it; all but the first find it registered.
func registerMetrics(reg *prometheus.Registry) error {
	if reg == nil {
		return nil
	}
	err := reg.Register(hubCollector{})
	if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
		return nil
	}
	return err
}
