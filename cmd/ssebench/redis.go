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
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// runRedis measures the Redis transport against the memory transport in
// one run: the same paced and as-fast-as-possible loads against a Caddy
// with a memory hub, a Caddy with a Redis hub (publish and subscribe on
// it), and two Caddy instances sharing a Redis hub (publish on one,
// subscribe on the other). CPU is the subscribers' server's only.
func (s *suite) runRedis(out *scenarioOutput) (*scenarioOutput, error) {
	c := s.cfg
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, fmt.Errorf("-redis: %v", err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		fmt.Printf("redis scenario skipped: no Redis at %s: %v\n", c.redisURL, err)
		return out, nil
	}
	prefix := fmt.Sprintf("ssebench:%d:", time.Now().UnixNano())
	defer func() {
		if keys, err := client.Keys(context.Background(), prefix+"*").Result(); err == nil && len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	}()
	transport := fmt.Sprintf("transport redis %s {\n\t\t\t\tkey_prefix %s\n\t\t\t}", c.redisURL, prefix)

	type run struct {
		name   string
		rate   float64
		events int
	}
	runs := []run{{"paced", c.redisRate, c.redisEvents}, {"throughput", 0, c.redisTpEvents}}
	got := map[string]*result{}
	measure := func(mode string, sub, pub *server) error {
		for _, r := range runs {
			res, err := out.measure(loadConfig{url: sub.url, pubURL: pub.url, topic: "bench", subs: c.redisSubs,
				events: r.events, rate: r.rate, publishers: 1, pid: sub.pid, dialers: 64,
				wait: 60 * time.Second, label: "redis/" + mode + "/" + r.name})
			if err != nil {
				return fmt.Errorf("%s %s: %v", mode, r.name, err)
			}
			got[mode+"/"+r.name] = res
		}
		return nil
	}

	if err := s.withServer("plugin", func(srv *server) error { return measure("memory", srv, srv) }); err != nil {
		return nil, err
	}
	a, err := startServerWith("plugin", s.self, s.caddy, transport)
	if err != nil {
		return nil, err
	}
	defer a.stop()
	if err := measure("redis-same", a, a); err != nil {
		return nil, err
	}
	b, err := startServerWith("plugin", s.self, s.caddy, transport)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	if err := measure("redis-cross", b, a); err != nil {
		return nil, err
	}

	mem := got["memory/paced"]
	for _, mode := range []string{"redis-same", "redis-cross"} {
		p, t := got[mode+"/paced"], got[mode+"/throughput"]
		out.ratio(mode+"/memory p50", p.P50ms, mem.P50ms)
		out.ratio(mode+"/memory p99", p.P99ms, mem.P99ms)
		out.Ratios = append(out.Ratios, ratio{mode + " p50 added (ms)", p.P50ms - mem.P50ms})
		out.ratio(mode+"/memory throughput deliveries/s", t.DeliveriesPerS, got["memory/throughput"].DeliveriesPerS)
		out.ratio(mode+"/memory throughput CPU per delivery", t.CPUPerDelivery, got["memory/throughput"].CPUPerDelivery)
	}
	return out, s.checkClean(out)
}
