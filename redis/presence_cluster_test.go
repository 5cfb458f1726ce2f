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
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/redistest"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// observed collects an observer's occupied, vacated, join and leave.
type observed struct {
	mu  sync.Mutex
	evs []string
}

func (o *observed) observe(e hub.PresenceEvent) {
	if e.Type == hub.PresenceConnect || e.Type == hub.PresenceDisconnect {
		return
	}
	o.mu.Lock()
	o.evs = append(o.evs, fmt.Sprintf("%s %s %s", e.Type, e.Topic, e.Identity))
	o.mu.Unlock()
}

func (o *observed) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.evs)
}

// clusterHubs returns n hubs of one name sharing a Redis, as n instances
// would, each with presence on and an observer.
func clusterHubs(t *testing.T, n int) ([]*hub.Hub, []*observed) {
	t.Helper()
	url := redistest.URL(t)
	tr := &Transport{URL: url, KeyPrefix: redistest.KeyPrefix(t, url)}
	if err := tr.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	name := redistest.UniqueHub(t)
	hubs := make([]*hub.Hub, n)
	obs := make([]*observed, n)
	for i := range hubs {
		obs[i] = new(observed)
		hubs[i] = hub.New(name, hub.Settings{Presence: true, PresenceGrace: 10 * time.Millisecond},
			hub.Options{Log: tr.NewLog(name, zap.NewNop()), Observer: obs[i].observe})
		t.Cleanup(hubs[i].Close)
	}
	return hubs, obs
}

func subscribeAs(t *testing.T, h *hub.Hub, identity string, watch bool) *hub.Subscriber {
	t.Helper()
	sub, err := h.Subscribe(hub.SubscribeRequest{Selectors: []string{"room"}, Identity: identity, Buffer: 64, Presence: watch})
	if err != nil {
		t.Fatal(err)
	}
	return sub.Subscriber
}

func memberIDs(h *hub.Hub) []string {
	info, _ := h.Presence("room")
	var ids []string
	for _, m := range info.Members {
		ids = append(ids, m.Identity)
	}
	slices.Sort(ids)
	return ids
}

func TestClusterPresenceTwoHubs(t *testing.T) {
	ssetest.SkipShort(t, ssetest.TierRedis)
	hubs, obs := clusterHubs(t, 2)
	a, b := hubs[0], hubs[1]
	watcher := subscribeAs(t, b, "", true) // anonymous, on B, with presence=on
	aliceA := subscribeAs(t, a, "alice", false)
	ssetest.PollUntil(t, 5*time.Second, "B sees alice", func() bool { return slices.Equal(memberIDs(b), []string{"alice"}) })
	aliceB := subscribeAs(t, b, "alice", false)
	ssetest.PollUntil(t, 5*time.Second, "B's watcher hears alice join", func() bool { return watcher.Queued() >= 1 })

	// Alice on both instances is one member, and closing her stream on
	// A keeps her in the cluster.
	aliceA.Close()
	ssetest.PollUntil(t, 5*time.Second, "A's leave reaches Redis", func() bool {
		info, _ := a.Presence("room")
		return len(info.Members) == 1 && info.Members[0].Streams == 1
	})
	aliceB.Close()
	ssetest.PollUntil(t, 5*time.Second, "alice leaves the cluster", func() bool { return len(memberIDs(a)) == 0 })
	// The leave reaches watchers and the observer over pub/sub, after Redis.
	ssetest.PollUntil(t, 5*time.Second, "B's watcher hears alice leave", func() bool { return watcher.Queued() >= 2 })
	ssetest.PollUntil(t, 5*time.Second, "an observer hears alice leave", func() bool {
		return slices.Contains(append(obs[0].list(), obs[1].list()...), "leave room alice")
	})

	var got []string
	for _, e := range watcher.Take(nil) {
		var d struct{ Identity string }
		_ = json.Unmarshal([]byte(e.Data), &d)
		got = append(got, e.Type+" "+d.Identity)
	}
	if want := []string{"sse.join alice", "sse.leave alice"}; !slices.Equal(got, want) {
		t.Fatalf("B's watcher got %q, want %q", got, want)
	}
	// Each cluster-level event reached one observer: occupied (by B's
	// watcher), then alice's join and leave, both claimed by whoever made them.
	all := append(obs[0].list(), obs[1].list()...)
	slices.Sort(all)
	if want := []string{"join room alice", "leave room alice", "occupied room "}; !slices.Equal(all, want) {
		t.Fatalf("observers got %q, want %q (once each across the cluster)", all, want)
	}
}

func TestClusterPresenceDeadInstance(t *testing.T) {
	ssetest.SkipShort(t, ssetest.TierRedis)
	old := presenceTTL
	presenceTTL = 400 * time.Millisecond
	t.Cleanup(func() { presenceTTL = old })
	hubs, obs := clusterHubs(t, 2)
	a, b := hubs[0], hubs[1]
	subscribeAs(t, a, "alice", false)
	subscribeAs(t, b, "bob", false)
	ssetest.PollUntil(t, 5*time.Second, "B sees both", func() bool { return slices.Equal(memberIDs(b), []string{"alice", "bob"}) })
	// A dies without a goodbye: its heartbeat stops.
	a.Log().(*streamLog).cancel()
	ssetest.PollUntil(t, 5*time.Second, "alice's membership expires", func() bool { return slices.Equal(memberIDs(b), []string{"bob"}) })
	ssetest.PollUntil(t, 5*time.Second, "B's reaper reports alice's leave", func() bool {
		return slices.Contains(obs[1].list(), "leave room alice")
	})
}
