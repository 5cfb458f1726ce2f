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
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"go.uber.org/zap"
)

// This file is the hub's PresenceCluster on Redis: it writes this
// instance's transitions to the Presence store on a goroutine of its own
// (the hub hands them over with its lock held), heartbeats, reaps dead
// instances, and passes each cluster-level change to every instance over
// a pub/sub channel, <prefix>{<hub>}:presence:events. Nothing here runs,
// and Redis sees no presence traffic, until the hub tracks presence.

// presenceTTL is how long an instance's members outlive its last
// heartbeat; a variable so that tests need not wait for it.
var presenceTTL = DefaultPresenceTTL

// clusterMessage is one cluster-level change on the channel.
type clusterMessage struct {
	Origin   string                `json:"origin"` // the instance that claimed it
	Type     hub.PresenceEventType `json:"type"`
	Topic    string                `json:"topic"`
	Identity string                `json:"identity,omitempty"`
	Count    int                   `json:"count"`
	Time     time.Time             `json:"time"`
}

// cluster implements hub.PresenceCluster for a stream log.
type cluster struct {
	l       *streamLog
	store   *Presence
	channel string

	mu      sync.Mutex
	hub     *hub.Hub // nil while the hub does not track presence
	queue   []hub.PresenceEvent
	running bool
	joined  bool // this instance has written membership since its last goodbye
	wake    chan struct{}
}

func newCluster(l *streamLog, prefix string) *cluster {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	store := NewPresence(l.client, prefix, l.hub, hex.EncodeToString(b), presenceTTL)
	return &cluster{l: l, store: store, channel: store.base + "events", wake: make(chan struct{}, 1)}
}

// PresenceCluster implements hub.PresenceClusterLog.
func (l *streamLog) PresenceCluster() hub.PresenceCluster { return l.cluster }

// Track implements hub.PresenceCluster.
func (c *cluster) Track(h *hub.Hub) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hub = h
	if h != nil && !c.running && c.l.ctx.Err() == nil {
		c.running = true
		ready := make(chan struct{})
		c.l.wg.Add(2)
		go c.listen(ready)
		go c.run(ready)
	}
	c.signal()
}

// Local implements hub.PresenceCluster.
func (c *cluster) Local(e hub.PresenceEvent) {
	c.mu.Lock()
	c.queue = append(c.queue, e)
	c.mu.Unlock()
	c.signal()
}

func (c *cluster) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Members implements hub.PresenceCluster.
func (c *cluster) Members(topic string) ([]hub.ClusterMember, error) {
	ctx, cancel := context.WithTimeout(c.l.ctx, c.l.publishTimeout)
	defer cancel()
	ms, _, err := c.store.Members(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make([]hub.ClusterMember, len(ms))
	for i, m := range ms {
		out[i] = hub.ClusterMember{Identity: m.Identity, Instances: m.Instances, Since: m.Since}
	}
	return out, nil
}

// run writes this instance's changes, heartbeats and reaps until the log
// closes.
func (c *cluster) run(ready <-chan struct{}) {
	defer c.l.wg.Done()
	select {
	case <-ready: // subscribed: this instance hears its own claims
	case <-c.l.ctx.Done():
		return
	}
	tick := time.NewTicker(presenceTTL / 4)
	defer tick.Stop()
	for {
		select {
		case <-c.l.ctx.Done():
			return
		case <-c.wake:
			c.drain()
		case <-tick.C:
			c.beat()
		}
	}
}

// drain writes the queued changes; after the hub stopped tracking, it
// says goodbye, so that other instances need not wait for the TTL.
func (c *cluster) drain() {
	c.mu.Lock()
	evs, tracked := c.queue, c.hub != nil
	c.queue = nil
	if tracked {
		c.joined = true
	}
	joined := c.joined
	if !tracked {
		c.joined = false
	}
	c.mu.Unlock()
	ctx := c.l.ctx
	for _, e := range evs {
		on := e.Type == hub.PresenceJoin || e.Type == hub.PresenceOccupied
		claimed, count, err := c.store.Change(ctx, e.Topic, e.Identity, on)
		if err != nil {
			c.warn("redis presence: a change was lost", err)
			continue
		}
		if claimed {
			c.publish(clusterMessage{Origin: c.store.instance, Type: e.Type, Topic: e.Topic, Identity: e.Identity, Count: count, Time: e.Time})
		}
	}
	if !tracked && joined {
		removed, err := c.store.Goodbye(ctx)
		if err != nil {
			c.warn("redis presence: goodbye failed; this instance's members expire with its deadline", err)
		}
		c.publishRemoved(removed, "")
	}
}

// beat moves this instance's deadline and reaps dead instances, telling
// the cluster of the leaves and vacates that makes.
func (c *cluster) beat() {
	c.mu.Lock()
	tracked := c.hub != nil
	c.mu.Unlock()
	if !tracked {
		return
	}
	if err := c.store.Heartbeat(c.l.ctx); err != nil {
		c.warn("redis presence: heartbeat failed", err)
		return
	}
	removed, err := c.store.Reap(c.l.ctx)
	if err != nil {
		c.warn("redis presence: reaping dead instances failed", err)
		return
	}
	c.publishRemoved(removed, c.store.instance)
}

func (c *cluster) publishRemoved(removed []Removed, origin string) {
	now := time.Now()
	for _, r := range removed {
		m := clusterMessage{Origin: origin, Type: hub.PresenceLeave, Topic: r.Topic, Identity: r.Identity, Count: r.Count, Time: now}
		if r.Identity == occupiedField {
			m.Type, m.Count = hub.PresenceVacated, 0
		}
		c.publish(m)
	}
}

func (c *cluster) publish(m clusterMessage) {
	data, _ := json.Marshal(m) // cannot fail: strings, ints and a time
	if err := c.l.client.Publish(c.l.ctx, c.channel, data).Err(); err != nil {
		c.warn("redis presence: a cluster event was lost", err)
	}
}

// listen hands every cluster-level change to the hub: its watchers hear
// them all, its observer those this instance claimed.
func (c *cluster) listen(ready chan<- struct{}) {
	defer c.l.wg.Done()
	sub := c.l.client.Subscribe(c.l.ctx, c.channel)
	defer sub.Close()
	for {
		if _, err := sub.Receive(c.l.ctx); err == nil {
			break
		} else if c.l.ctx.Err() != nil {
			return
		}
		select { // Redis is down: try again in a while
		case <-c.l.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	close(ready)
	ch := sub.Channel()
	for {
		select {
		case <-c.l.ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			var m clusterMessage
			if json.Unmarshal([]byte(msg.Payload), &m) != nil {
				continue
			}
			c.mu.Lock()
			h := c.hub
			c.mu.Unlock()
			if h != nil {
				h.ClusterEvent(hub.PresenceEvent{Type: m.Type, Topic: m.Topic, Identity: m.Identity, Count: m.Count, Time: m.Time},
					m.Origin == c.store.instance)
			}
		}
	}
}

func (c *cluster) warn(msg string, err error) {
	if c.l.ctx.Err() == nil {
		c.l.logger.Warn(msg, zap.String("hub", c.l.hub), zap.Error(err))
	}
}

// goodbye removes this instance's membership when its log closes, so
// that the other instances see its members leave at once rather than at
// its deadline.
func (c *cluster) goodbye() {
	c.mu.Lock()
	running := c.running
	c.mu.Unlock()
	if !running {
		return // presence never tracked: no Redis traffic
	}
	ctx, cancel := context.WithTimeout(c.l.ctx, c.l.publishTimeout)
	defer cancel()
	removed, err := c.store.Goodbye(ctx)
	if err != nil {
		c.warn("redis presence: goodbye failed; this instance's members expire with its deadline", err)
		return
	}
	c.publishRemoved(removed, "")
}
