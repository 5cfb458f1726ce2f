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

package hub

import (
	"sync/atomic"
	"time"
)

// PublishBuckets are the upper bounds, in seconds, of the publish latency
// histogram: a memory publish takes microseconds, a wide fan-out, a
// contended hub or a shared log longer.
var PublishBuckets = [...]float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// latencyHistogram counts durations in PublishBuckets with atomic
// counters, so that it lives with its hub, whoever reads it.
type latencyHistogram struct {
	counts [len(PublishBuckets) + 1]atomic.Uint64 // the last one is +Inf
	sum    atomic.Uint64                          // nanoseconds
}

func (l *latencyHistogram) observe(d time.Duration) {
	secs := d.Seconds()
	i := 0
	for i < len(PublishBuckets) && secs > PublishBuckets[i] {
		i++
	}
	l.counts[i].Add(1)
	l.sum.Add(uint64(max(d, 0)))
}

// snapshot returns the count, the sum in seconds and the cumulative
// bucket counts, as prometheus.NewConstHistogram takes them.
func (l *latencyHistogram) snapshot() (uint64, float64, map[float64]uint64) {
	buckets := make(map[float64]uint64, len(PublishBuckets))
	var cumulative uint64
	for i, bound := range PublishBuckets {
		cumulative += l.counts[i].Load()
		buckets[bound] = cumulative
	}
	count := cumulative + l.counts[len(PublishBuckets)].Load()
	return count, float64(l.sum.Load()) / float64(time.Second), buckets
}

// PublishLatency returns the hub's publish latency histogram: the count
// of publishes, the sum of their durations in seconds and the cumulative
// count per bound of PublishBuckets.
func (h *Hub) PublishLatency() (count uint64, sum float64, buckets map[float64]uint64) {
	return h.publishLatency.snapshot()
}
