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

package redis

import (
	"context"
	_ "embed"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// This file keeps a hub's presence membership in Redis so that every
// instance sees the members of all (SPEC §12 with the Redis transport).
// Each instance writes only its own keys:
//
//	<prefix>{<hub>}:presence:live             sorted set: instance -> deadline (ms)
//	<prefix>{<hub>}:presence:<inst>           set of the topics it has members on
//	<prefix>{<hub>}:presence:<inst>:<topic>   hash: identity -> since (ms), "" -> occupied
//
// The instance's heartbeat moves its deadline and the expiry of its keys
// forward; an instance that dies without a goodbye misses its deadline,
// readers skip it at once, and the next reaper deletes its keys and
// reports the cluster-level leaves and vacates it leaves behind. Every
// change is one Lua script, atomic in Redis, that also tells whether it
// was the first or last such entry in the cluster: that instance alone
// reports the cluster-level event, so each is sent once by the cluster.

// DefaultPresenceTTL is how long an instance's members outlive its last
// heartbeat.
const DefaultPresenceTTL = 20 * time.Second

// occupiedField is the hash field that says the instance has streams on
// the topic; identities are never empty, so it cannot collide.
const occupiedField = ""

//go:embed presence_change.lua
var changeSource string

//go:embed presence_reap.lua
var reapSource string

var (
	changeScript = goredis.NewScript(changeSource)
	reapScript   = goredis.NewScript(reapSource)
)

// Presence is one instance's view of a hub's cluster-wide membership.
type Presence struct {
	rdb      goredis.UniversalClient
	base     string // <prefix>{<hub>}:presence:
	instance string
	ttl      time.Duration
	now      func() time.Time
}

// NewPresence returns the membership store of hub for this instance.
func NewPresence(rdb goredis.UniversalClient, prefix, hub, instance string, ttl time.Duration) *Presence {
	if ttl <= 0 {
		ttl = DefaultPresenceTTL
	}
	return &Presence{rdb: rdb, base: prefix + "{" + hub + "}:presence:", instance: instance, ttl: ttl, now: time.Now}
}

// Change records that identity joined (on) or left (!on) topic on this
// instance; an empty identity records occupancy. cluster tells whether
// it was the cluster's transition too: the first instance with that
// member (or with a stream on the topic) or the last one; count is the
// topic's members in the cluster after the change.
func (p *Presence) Change(ctx context.Context, topic, identity string, on bool) (cluster bool, count int, err error) {
	flag := "0"
	if on {
		flag = "1"
	}
	now := p.now()
	res, err := changeScript.Run(ctx, p.rdb,
		[]string{p.base + "live", p.base + p.instance, p.base + p.instance + ":" + topic},
		p.instance, topic, identity, flag, now.UnixMilli(), p.ttl.Milliseconds(), p.base).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	return res[0] == 1, int(res[1]), nil
}

// Heartbeat moves this instance's deadline and the expiry of its keys
// forward by the TTL.
func (p *Presence) Heartbeat(ctx context.Context) error {
	now := p.now()
	deadline := now.Add(p.ttl).UnixMilli()
	topics, err := p.rdb.SMembers(ctx, p.base+p.instance).Result()
	if err != nil {
		return err
	}
	pipe := p.rdb.Pipeline()
	pipe.ZAdd(ctx, p.base+"live", goredis.Z{Score: float64(deadline), Member: p.instance})
	// The keys outlive the deadline by another TTL so that a reaper can
	// still read what a dead instance left behind.
	pipe.PExpire(ctx, p.base+p.instance, 2*p.ttl)
	for _, t := range topics {
		pipe.PExpire(ctx, p.base+p.instance+":"+t, 2*p.ttl)
	}
	_, err = pipe.Exec(ctx)
	return err
}

// Removed is a cluster-level leave (Identity set) or vacate that a dead
// instance left behind.
type Removed struct {
	Topic, Identity string
	Count           int
}

// Reap removes the instances that missed their deadline and returns the
// cluster-level changes that makes. Any instance may call it; each dead
// instance is reaped by one.
func (p *Presence) Reap(ctx context.Context) ([]Removed, error) {
	res, err := reapScript.Run(ctx, p.rdb, []string{p.base + "live"}, p.now().UnixMilli(), p.base).StringSlice()
	if err != nil {
		return nil, err
	}
	out := make([]Removed, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		n, _ := strconv.Atoi(res[i+2])
		out = append(out, Removed{Topic: res[i], Identity: res[i+1], Count: n})
	}
	return out, nil
}

// Goodbye removes this instance's keys at a clean shutdown, as the
// reaper would, and returns the cluster-level changes.
func (p *Presence) Goodbye(ctx context.Context) ([]Removed, error) {
	if err := p.rdb.ZAdd(ctx, p.base+"live", goredis.Z{Score: 0, Member: p.instance}).Err(); err != nil {
		return nil, err
	}
	return p.Reap(ctx)
}

// Member is one identity on a topic with the instances it is on.
type Member struct {
	Identity  string
	Instances int
	Since     time.Time // when it joined its earliest instance
}

// Members returns the members of topic on every live instance, and
// whether any live instance has a stream on it.
func (p *Presence) Members(ctx context.Context, topic string) (members []Member, occupied bool, err error) {
	live, err := p.rdb.ZRangeByScore(ctx, p.base+"live", &goredis.ZRangeBy{
		Min: "(" + strconv.FormatInt(p.now().UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, false, err
	}
	pipe := p.rdb.Pipeline()
	cmds := make([]*goredis.MapStringStringCmd, len(live))
	for i, inst := range live {
		cmds[i] = pipe.HGetAll(ctx, p.base+inst+":"+topic)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != goredis.Nil {
		return nil, false, err
	}
	seen := make(map[string]int) // index in members
	for _, c := range cmds {
		for id, v := range c.Val() {
			if id == occupiedField {
				occupied = true
				continue
			}
			ms, _ := strconv.ParseInt(v, 10, 64)
			since := time.UnixMilli(ms)
			i, ok := seen[id]
			if !ok {
				seen[id] = len(members)
				members = append(members, Member{Identity: id, Since: since})
				i = len(members) - 1
			} else if since.Before(members[i].Since) {
				members[i].Since = since
			}
			members[i].Instances++
		}
	}
	return members, occupied, nil
}
