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

//go:build unix

package caddysse

// The checks of the README's JWT walkthrough and Redis example, run by
// TestReadmeShellExamples.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-sse/caddy-sse/internal/ssetest/redistest"
)

var (
	redisURL       = redistest.URL
	redisKeyPrefix = redistest.KeyPrefix
)

// checkMintToken: the block exports SSE_JWT_KEY (so a Caddy started from
// the shell reads it) and mints alice's token with it. Then, as the
// walkthrough goes on, the test starts Caddy from that shell's environment
// on the README's JWT Caddyfile and opens alice's stream the way her page
// does, with the token in the sse_token cookie.
func checkMintToken(t *testing.T, sc *readmeScenario, run *blockRun) {
	token := strings.TrimSpace(run.cmd(t, "./caddy sse token").out)
	claims := jwtClaims(t, token)
	sse, _ := claims["sse"].(map[string]any)
	if got, want := fmt.Sprint(claims["sub"], " ", sse["subscribe"]), "alice [users/alice/**]"; got != want {
		t.Errorf("the token's sub and sse.subscribe are %s, want %s", got, want)
	}
	// printenv prints only an exported variable: what Caddy, Go and Python
	// started from this shell see.
	key := strings.TrimSuffix(sc.shell.run("printenv SSE_JWT_KEY"), "\n")
	if len(key) < 32 {
		t.Fatalf("SSE_JWT_KEY is %d bytes; the jwt block needs at least 32", len(key))
	}
	parts := strings.Split(token, ".")
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] {
		t.Fatal("the token is not signed with the exported SSE_JWT_KEY")
	}

	var caddyfile string
	for _, b := range run.after {
		if strings.Contains(b.text, "key {env.SSE_JWT_KEY}") && strings.HasPrefix(b.text, "example.com {") {
			caddyfile = b.text
			break
		}
	}
	if caddyfile == "" {
		t.Fatalf("README.md:%d: no Caddyfile with `key {env.SSE_JWT_KEY}` for example.com after the block", run.block.line)
	}
	// Substitutions: the site address example.com (which would need a
	// certificate) is served as http://localhost:<port>, and the admin
	// endpoint moves off localhost:2019.
	caddyfile = fmt.Sprintf("{\n\tadmin localhost:%d\n}\n\n", sc.ports[2019]) +
		strings.Replace(caddyfile, "example.com {", fmt.Sprintf("http://localhost:%d {", sc.ports[8080]), 1)
	sc.writeFile(t, "jwt.Caddyfile", caddyfile)
	sc.caddy = sc.startCaddy(t, "jwt.Caddyfile", "SSE_JWT_KEY="+key)

	client := &http.Client{}
	t.Cleanup(client.CloseIdleConnections)
	sc.streams["alice"] = subscribeWith(t, client, sc.caddy.URL+"/events?topic=users/alice", "Cookie", "sse_token="+token)
}

// checkBackendPublish: the backend's token, minted with the same key,
// publishes to users/alice, and alice's stream gets the event.
func checkBackendPublish(t *testing.T, sc *readmeScenario, run *blockRun) {
	publish := run.cmd(t, "curl -H \"Authorization: Bearer $BACKEND_TOKEN\"")
	id := strings.TrimSpace(publish.out)
	if !eventIDRE.MatchString(id) {
		t.Fatalf("%s\nprinted %q; want an event id", publish.text, publish.out)
	}
	alice := sc.streams["alice"]
	if alice == nil {
		t.Fatal("alice's stream is not open")
	}
	if ev := alice.Next(perEventTimeout); ev.ID != id || ev.Data != `{"text":"hello"}` {
		t.Errorf("alice's stream got %+v; want the event %s with data {\"text\":\"hello\"}", ev, id)
	}
}

// checkRedisInstances: the block starts two instances of
// examples/redis/Caddyfile, subscribes on the second, publishes on the
// first and stops both. The subscriber prints the event with the id the
// publisher printed, then the sse.close of the shutdown, and exits.
func checkRedisInstances(t *testing.T, _ *readmeScenario, run *blockRun) {
	publish := run.cmd(t, "curl -d topic=news")
	id := strings.TrimSpace(publish.out)
	if !eventIDRE.MatchString(id) {
		t.Fatalf("%s\nprinted %q; want an event id", publish.text, publish.out)
	}
	if len(run.subs) != 1 {
		t.Fatalf("README.md:%d: want one curl -N, got %d", run.block.line, len(run.subs))
	}
	sub := run.subs[0]
	sub.waitExit(t)
	event := regexp.MustCompile(`(?m)^id: ` + id + `\ntopic: news\ndata: hello\n\n`)
	closed := regexp.MustCompile(`event: sse.close\n(.*\n)*data: \{"reason":"shutdown"\}\n\n$`)
	if out := sub.out.String(); !event.MatchString(out) || !closed.MatchString(out) {
		t.Errorf("the subscriber on the second instance printed:\n%s\nwant the event %s (topic news, data hello), then sse.close for the shutdown", out, id)
	}
}
