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
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/redistest"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// redisHubs returns a function making hubs that share one hub's stream
// in Redis, as the instances of a cluster do.
func redisHubs(t *testing.T) func(history int) *hub.Hub {
	url := redistest.URL(t)
	key := redistest.KeyPrefix(t, url) + "{pubid}:"
	return func(history int) *hub.Hub {
		opts, err := goredis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		l := newLog(logConfig{hub: "pubid", opts: opts, logger: zap.NewNop(),
			stream: key + "stream", idKey: key + "idkey", idemPrefix: key + "idem:",
			publishTimeout: 5 * time.Second, idemWindow: time.Minute, maxInFlight: 16})
		h := hub.New("pubid", hub.Settings{History: history}, hub.Options{Log: l})
		t.Cleanup(h.Close)
		l.Start() // read the stream now, as a running instance does
		return h
	}
}

// replayData is the data of events a resume replays; stored events carry
// their body only, so it is read from the wire.
func replayData(evs []*hub.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		_, data, _ := bytes.Cut(e.Wire(), []byte("data: "))
		out[i] = string(bytes.TrimSuffix(data, []byte("\n\n")))
	}
	return out
}

func resume(t *testing.T, h *hub.Hub, id string) *hub.Subscription {
	t.Helper()
	sub, err := h.Subscribe(hub.SubscribeRequest{Selectors: []string{"a"}, LastEventID: id, HasLastEventID: true, Buffer: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// Two instances on one Redis: a publisher id given on one is on the wire
// on the other, and resumable there, on an instance that was running and
// on one that loaded the events from the stream when it started.
func TestRedisPublisherIDs(t *testing.T) {
	newHub := redisHubs(t)
	pub, other := newHub(10), newHub(10)
	live, err := other.Subscribe(hub.SubscribeRequest{Selectors: []string{"a"}, Buffer: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	evs := []*hub.Event{
		{ID: "urn:uuid:1", Topics: []string{"a"}, Data: "one"},
		{Topics: []string{"a"}, Data: "two"},
		{ID: "dup", Topics: []string{"a"}, Data: "three"},
		{Topics: []string{"a"}, Data: "four"},
		{ID: "dup", Topics: []string{"a"}, Data: "five"},
		{Topics: []string{"a"}, Data: "six"},
	}
	for _, e := range evs {
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := pub.Publish(context.Background(), evs, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != "urn:uuid:1" || ids[2] != "dup" || ids[4] != "dup" || len(ids[1]) != hub.IDLen {
		t.Fatalf("ids %q", ids)
	}

	var got []*hub.Event
	ssetest.PollUntil(t, 5*time.Second, "the other instance delivers all six", func() bool {
		got = live.Take(got)
		return len(got) == len(evs)
	})
	for i, e := range got {
		if e.ID != ids[i] || e.PublisherID() != (evs[i].ID != "") || !bytes.HasPrefix(e.Wire(), []byte("id: "+ids[i]+"\n")) {
			t.Fatalf("event %d on the other instance: id %q, wire %q; want id %q", i, e.ID, e.Wire(), ids[i])
		}
	}

	late := newHub(10) // loads the stream when it starts
	for name, h := range map[string]*hub.Hub{"publisher": pub, "running": other, "started later": late} {
		ssetest.PollUntil(t, 5*time.Second, name+" has read the events", func() bool { return h.Stats().NewestID == ids[5] })
		if sub := resume(t, h, "urn:uuid:1"); sub.ResetReason != "" || !slices.Equal(replayData(sub.Replay), []string{"two", "three", "four", "five", "six"}) {
			t.Fatalf("%s: resume from a publisher id: reason %q, replay %q", name, sub.ResetReason, replayData(sub.Replay))
		}
		if sub := resume(t, h, "dup"); sub.ResetReason != "" || !slices.Equal(replayData(sub.Replay), []string{"six"}) {
			t.Fatalf("%s: resume from a reused id: reason %q, replay %q", name, sub.ResetReason, replayData(sub.Replay))
		}
		if sub := resume(t, h, ids[3]); sub.ResetReason != "" || !slices.Equal(replayData(sub.Replay), []string{"five", "six"}) {
			t.Fatalf("%s: resume from a hub id: reason %q, replay %q", name, sub.ResetReason, replayData(sub.Replay))
		}
		if sub := resume(t, h, "unknown"); sub.ResetReason != hub.ReasonUnknownID || sub.NewestID != ids[5] {
			t.Fatalf("%s: unknown publisher id: reason %q, newest %q", name, sub.ResetReason, sub.NewestID)
		}
	}

	// An instance whose history no longer has the event resets.
	small := newHub(2)
	ssetest.PollUntil(t, 5*time.Second, "the small instance has loaded", func() bool { return small.Stats().NewestID == ids[5] })
	if sub := resume(t, small, "urn:uuid:1"); sub.ResetReason != hub.ReasonUnknownID || sub.NewestID != ids[5] {
		t.Fatalf("trimmed publisher id: reason %q, newest %q", sub.ResetReason, sub.NewestID)
	}
	if sub := resume(t, small, "dup"); sub.ResetReason != "" || !slices.Equal(replayData(sub.Replay), []string{"six"}) {
		t.Fatalf("reused id, newest kept: reason %q, replay %q", sub.ResetReason, replayData(sub.Replay))
	}
}

// An idempotency key works as before for events with publisher ids: a
// retry stores nothing.
func TestRedisPublisherIDIdempotencyKey(t *testing.T) {
	newHub := redisHubs(t)
	h, other := newHub(10), newHub(10)
	mk := func() []*hub.Event { return []*hub.Event{{ID: "p", Topics: []string{"a"}, Data: "x"}} }
	first, err := h.Publish(context.Background(), mk(), "k", 0)
	if err != nil || first[0] != "p" {
		t.Fatalf("publish: %q %v", first, err)
	}
	again, err := other.Publish(context.Background(), mk(), "k", 0)
	if err != nil || len(again) != 1 {
		t.Fatalf("retry: %q %v", again, err)
	}
	marker, err := h.Publish(context.Background(), []*hub.Event{{Topics: []string{"a"}, Data: "marker"}}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ssetest.PollUntil(t, 5*time.Second, "the marker arrives", func() bool { return other.Stats().NewestID == marker[0] })
	if n := other.Stats().HistoryLen; n != 2 {
		t.Fatalf("history has %d events, want the publish once and the marker", n)
	}
}
