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

package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/redis/go-redis/v9"
)

// URL returns the URL of a Redis for a test: 127.0.0.1:6379 when
// it answers, otherwise a redis-server of this test on a free port; with
// neither, the test is skipped loudly (a failure under SSE_TEST_STRICT=1).
func URL(t testing.TB) string {
	t.Helper()
	ssetest.SkipShort(t, ssetest.TierRedis)
	if Answers("127.0.0.1:6379") {
		return "redis://127.0.0.1:6379"
	}
	return StartServer(t).URL
}

// Answers reports whether a Redis answers PING at addr.
func Answers(addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}

// Server is a redis-server process of a test, which the test may
// stop and start again; it keeps its data on disk across restarts.
type Server struct {
	t         testing.TB
	URL       string
	Addr      string
	dir       string
	snapshots bool // data survives only in the snapshots Save writes
	cmd       *exec.Cmd
	done      chan struct{}
}

// StartServer starts redis-server on a free loopback port, with an
// append-only file fsynced on every write so that a restart keeps every
// acknowledged event.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, false)
}

// StartSnapshotServer starts redis-server as StartServer does, but it
// keeps data only in the snapshots Save writes: after Kill and Start it
// holds what it held at the last Save, as a Redis that snapshots does
// after a crash.
func StartSnapshotServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, true)
}

func startServer(t testing.TB, snapshots bool) *Server {
	t.Helper()
	ssetest.SkipShort(t, ssetest.TierRedis)
	if _, err := exec.LookPath("redis-server"); err != nil {
		ssetest.SkipOrFail(t, "no Redis answers on 127.0.0.1:6379 and redis-server is not installed (apt-get install -y redis-server)")
	}
	port := ssetest.FreePort(t)
	s := &Server{t: t, Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: t.TempDir(), snapshots: snapshots}
	s.URL = "redis://" + s.Addr
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start runs the server and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	persistence := []string{"--appendonly", "yes", "--appendfsync", "always"}
	if s.snapshots {
		persistence = []string{"--appendonly", "no"}
	}
	s.cmd = exec.Command("redis-server", append(append([]string{"--bind", "127.0.0.1", "--port", port, "--dir", s.dir},
		persistence...), "--save", "", "--daemonize", "no")...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.cmd, s.done)
	ssetest.PollUntil(s.t, 10*time.Second, "redis-server answering on "+s.Addr, func() bool { return Answers(s.Addr) })
}

// Stop shuts the server down (it writes its data first) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	ssetest.StopProcess(s.cmd.Process, s.done, 10*time.Second)
	s.cmd = nil
}

// Kill ends the server at once, as a crash does: it writes nothing.
func (s *Server) Kill() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Save writes a snapshot of the server's data, which the next Start loads.
func (s *Server) Save() {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		s.t.Fatal(err)
	}
}

// KeyPrefix is a key prefix of this test alone, so that tests sharing
// a Redis never see each other's streams; its keys are deleted at the end.
func KeyPrefix(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "ssetest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opts, _ := redis.ParseURL(url)
		opts.MaxRetries, opts.DisableIdentity = -1, true
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return prefix
}

// Clients counts the connections Redis has from clients named name.
func Clients(t testing.TB, url, name string) int {
	t.Helper()
	opts, _ := redis.ParseURL(url)
	opts.MaxRetries, opts.DisableIdentity = -1, true
	c := redis.NewClient(opts)
	defer c.Close()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(list, " name="+name+" ")
}

// UniqueHub returns a hub name of this test alone.
func UniqueHub(testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "h" + hex.EncodeToString(b)
}

// Site is a Caddyfile serving a Redis hub of that name under that key
// prefix at /events, granting everything; extra adds handler options.
func Site(url, prefix, hubName, extra string) string {
	return fmt.Sprintf(`:{PORT} {
	sse /events {
		hub %s
		transport redis %s {
			key_prefix %s
			publish_timeout 1s
		}
		subscribe_allow **
		publish_allow **%s
	}
}
`, hubName, url, prefix, extra)
}
