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
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// presencePair is two instances' membership stores of one hub on a real
// Redis, with one clock the test moves.
func presencePair(t *testing.T) (a, b *Presence, advance func(time.Duration)) {
	t.Helper()
	url := redistest.URL(t)
	prefix := redistest.KeyPrefix(t, url)
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a = NewPresence(rdb, prefix, "h", "A", 0)
	b = NewPresence(rdb, prefix, "h", "B", 0)
	a.now, b.now = clock, clock
	return a, b, func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
}

func identities(t *testing.T, p *Presence, topic string) []string {
	t.Helper()
	ms, _, err := p.Members(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.Identity)
	}
	slices.Sort(ids)
	return ids
}

func mustChange(t *testing.T, p *Presence, topic, id string, on bool) (bool, int) {
	t.Helper()
	cluster, count, err := p.Change(context.Background(), topic, id, on)
	if err != nil {
		t.Fatal(err)
	}
	return cluster, count
}

func TestPresenceClusterMembers(t *testing.T) {
	a, b, _ := presencePair(t)
	if c, n := mustChange(t, a, "room", "alice", true); !c || n != 1 {
		t.Fatalf("alice's join on A: cluster %v count %d, want true 1", c, n)
	}
	if got := identities(t, b, "room"); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("B sees %v, want [alice]", got)
	}
	// The same identity on B is the same member: no second cluster join.
	if c, n := mustChange(t, b, "room", "alice", true); c || n != 1 {
		t.Fatalf("alice's join on B: cluster %v count %d, want false 1", c, n)
	}
	if c, n := mustChange(t, b, "room", "bob", true); !c || n != 2 {
		t.Fatalf("bob's join on B: cluster %v count %d, want true 2", c, n)
	}
	// Alice leaves A but is still on B: no cluster leave.
	if c, _ := mustChange(t, a, "room", "alice", false); c {
		t.Fatal("alice's leave on A, still on B, was a cluster leave")
	}
	if c, n := mustChange(t, b, "room", "alice", false); !c || n != 1 {
		t.Fatalf("alice's last leave: cluster %v count %d, want true 1", c, n)
	}
	if got := identities(t, a, "room"); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("A sees %v, want [bob]", got)
	}
	// Leaving twice changes nothing and reports nothing.
	if c, _ := mustChange(t, b, "room", "alice", false); c {
		t.Fatal("a second leave was a cluster leave")
	}
}

func TestPresenceOccupiedOncePerCluster(t *testing.T) {
	a, b, _ := presencePair(t)
	// Both instances get a stream at once: exactly one reports occupied.
	var wg sync.WaitGroup
	var ca, cb bool
	wg.Add(2)
	go func() { defer wg.Done(); ca, _ = mustChangeNoT(a, "room", "", true) }()
	go func() { defer wg.Done(); cb, _ = mustChangeNoT(b, "room", "", true) }()
	wg.Wait()
	if ca == cb {
		t.Fatalf("occupied reported by A %v and B %v, want exactly one", ca, cb)
	}
	if c, _ := mustChange(t, a, "room", "", false); c {
		t.Fatal("vacated while B still has a stream")
	}
	if c, _ := mustChange(t, b, "room", "", false); !c {
		t.Fatal("the last stream's end was not the cluster's vacate")
	}
	if _, occ, _ := a.Members(context.Background(), "room"); occ {
		t.Fatal("still occupied")
	}
}

func mustChangeNoT(p *Presence, topic, id string, on bool) (bool, error) {
	c, _, err := p.Change(context.Background(), topic, id, on)
	return c, err
}

func TestPresenceDeadInstanceExpires(t *testing.T) {
	ctx := context.Background()
	a, b, advance := presencePair(t)
	mustChange(t, a, "room", "", true)
	mustChange(t, a, "room", "alice", true)
	mustChange(t, a, "room", "carol", true)
	mustChange(t, b, "room", "", true)
	mustChange(t, b, "room", "carol", true)
	// A stops its heartbeat (killed); B keeps beating. Just before the
	// TTL, A's members still count.
	advance(DefaultPresenceTTL - time.Second)
	if err := b.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if got := identities(t, b, "room"); !slices.Equal(got, []string{"alice", "carol"}) {
		t.Fatalf("before the TTL B sees %v", got)
	}
	if removed, err := b.Reap(ctx); err != nil || len(removed) != 0 {
		t.Fatalf("reap before the TTL: %v %v", removed, err)
	}
	advance(time.Second)
	if got := identities(t, b, "room"); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("at the TTL B sees %v, want [carol]", got)
	}
	removed, err := b.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Alice leaves the cluster; carol and occupancy stay with B.
	if want := []Removed{{Topic: "room", Identity: "alice", Count: 1}}; !slices.Equal(removed, want) {
		t.Fatalf("reaped %v, want %v", removed, want)
	}
	// Another reaper finds nothing left to report.
	if removed, _ := a.Reap(ctx); len(removed) != 0 {
		t.Fatalf("second reap: %v", removed)
	}
}

func TestPresenceGoodbye(t *testing.T) {
	ctx := context.Background()
	a, b, _ := presencePair(t)
	mustChange(t, a, "room", "", true)
	mustChange(t, a, "room", "alice", true)
	removed, err := a.Goodbye(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(removed, func(x, y Removed) int { return len(x.Identity) - len(y.Identity) })
	if want := []Removed{{Topic: "room"}, {Topic: "room", Identity: "alice"}}; !slices.Equal(removed, want) {
		t.Fatalf("goodbye: %v, want %v", removed, want)
	}
	if got := identities(t, b, "room"); len(got) != 0 {
		t.Fatalf("B sees %v after A's goodbye", got)
	}
}
