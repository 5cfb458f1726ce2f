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
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
	"github.com/caddyserver/caddy/v2"
)

// TestHubOptionsInherit: a hub option left unset on a handler takes the
// value another handler of the hub sets in the same config, whichever of
// the two is provisioned first, and a reload applies the result to the
// surviving hub.
func TestHubOptionsInherit(t *testing.T) {
	tc := startCaddy(t, lcSite("/before", "hub lc-before"))
	defaults := hub.Settings{History: defaultHistory, HistorySize: defaultHistorySize}
	for _, tt := range []struct {
		name string
		a, b string
		want hub.Settings
	}{
		{"set on the first", "history 3", "", hub.Settings{History: 3, HistorySize: defaultHistorySize}},
		{"set on the second", "", "history 4", hub.Settings{History: 4, HistorySize: defaultHistorySize}},
		{"history 0 inherited", "", "history 0", hub.Settings{History: 0, HistorySize: defaultHistorySize}},
		{
			"each sets some", "history_age 1m; max_subscribers 7", "history 5; history_size 1MiB; max_subscribers 7",
			hub.Settings{History: 5, HistoryAge: time.Minute, HistorySize: 1 << 20, MaxSubscribers: 7},
		},
		{"neither sets any", "", "", defaults},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lcReload(t, tc, lcSite("/a", "hub lc-inherit; "+tt.a, "/b", "hub lc-inherit; "+tt.b))
			lcExpectPool(t, map[string]int{"lc-inherit": 2})
			if got := pooledHubNamed(t, "lc-inherit").Settings(); got != tt.want {
				t.Fatalf("hub settings %+v, want %+v", got, tt.want)
			}
			// Both routes serve the one hub.
			s := lcSubscribe(t, tc, "/b?topic=x")
			id := lcPublish(t, tc, "/a", "topic", "x", "data", "from a")
			if ev := s.Next(lcWait); ev.ID != id {
				t.Fatalf("subscriber on /b got %+v, want %s published on /a", ev, id)
			}
			s.Close()
		})
	}
	lcStop(t)
}

// TestHubTransportInherits: a handler that names no transport takes the
// one another handler of its hub names, also when it was provisioned
// first and took the default memory hub: the two share one Redis hub.
// Provisioning never dials, and the port is closed: nothing reaches Redis.
func TestHubTransportInherits(t *testing.T) {
	tc := startCaddy(t, lcSite("/before", "hub lc-before"))
	const redis = "transport redis redis://127.0.0.1:1"
	for _, tt := range []struct{ name, a, b string }{
		{"set on the first", redis, ""},
		{"set on the second", "", redis},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lcReload(t, tc, lcSite("/a", "hub lc-transport; "+tt.a, "/b", "hub lc-transport; "+tt.b))
			keys := lcPoolKeys()
			if len(keys) != 1 || !strings.HasPrefix(keys[0], "lc-transport\x00redis ") {
				t.Fatalf("pool holds %q, want one Redis hub lc-transport", keys)
			}
			if n := lcRefs(keys[0]); n != 2 {
				t.Fatalf("the Redis hub has %d references, want 2 (one per handler)", n)
			}
			lcReload(t, tc, lcSite("/before", "hub lc-before"))
			lcExpectPool(t, map[string]int{"lc-before": 1})
		})
	}
	lcStop(t)
}

// TestHubOptionConflictPlaces: two explicit, different values name the
// option, both values and both places: file:line from a Caddyfile, the
// handler's place among its hub's for a JSON config without "source".
func TestHubOptionConflictPlaces(t *testing.T) {
	site := "http://127.0.0.1:9 {\n\troute /a {\n\t\tsse {\n\t\t\thub lc-conflict\n\t\t\thistory 10\n\t\t}\n\t}\n" +
		"\troute /b {\n\t\tsse {\n\t\t\thub lc-conflict\n\t\t}\n\t}\n" +
		"\troute /c {\n\t\tsse {\n\t\t\thub lc-conflict\n\t\t\thistory 20\n\t\t}\n\t}\n}\n"
	cfgJSON, err := caddytest.Adapt(t, site)
	if err != nil {
		t.Fatal(err)
	}
	// The sse directives are on lines 3 and 14 of the site, after the
	// global options Adapt puts first.
	offset := strings.Count(caddytest.Global(t, ""), "\n")
	want := `hub "lc-conflict": handlers disagree on history: 10 at Caddyfile:` + strconv.Itoa(offset+3) +
		", 20 at Caddyfile:" + strconv.Itoa(offset+14)
	if err := validateJSON(t, cfgJSON); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("validate: %v, want an error containing %q", err, want)
	}

	noSource := regexp.MustCompile(`,"source":"[^"]*"`).ReplaceAll(cfgJSON, nil)
	want = `history: 10 at sse handler #1 of hub "lc-conflict" in load order (set "source" on a JSON handler to name it here), ` +
		`20 at sse handler #3 of hub "lc-conflict"`
	if err := validateJSON(t, noSource); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("validate without sources: %v, want an error containing %q", err, want)
	}
	if n := lcPoolSize(); n != 0 {
		t.Fatalf("%d hubs left in the pool after failed validations: %v", n, lcPoolKeys())
	}
	groupsMu.Lock()
	left := len(groups)
	groupsMu.Unlock()
	if left != 0 {
		t.Fatalf("%d hub groups left after failed validations", left)
	}
}

// validateJSON provisions a config as `caddy validate` does.
func validateJSON(t *testing.T, cfgJSON []byte) error {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}

// TestHubWebhookInheritsAndClashes: a webhook set on one handler of a hub
// is the hub's, whichever handler is provisioned first; two handlers with
// different webhooks are an error that names both places and URLs and
// never shows a secret.
func TestHubWebhookInheritsAndClashes(t *testing.T) {
	secretA, secretB := strings.Repeat("a", 24), strings.Repeat("b", 24)
	block := func(url, secret string) string {
		return "\t\t\twebhook " + url + " {\n\t\t\t\tsecret " + secret + "\n\t\t\t}\n"
	}
	site := func(first, second string) string {
		return "http://127.0.0.1:9 {\n\troute /a {\n\t\tsse {\n\t\t\thub lc-webhook\n" + first + "\t\t}\n\t}\n" +
			"\troute /b {\n\t\tsse {\n\t\t\thub lc-webhook\n" + second + "\t\t}\n\t}\n}\n"
	}
	for _, tt := range []struct{ name, first, second string }{
		{"set on the first", block("https://b.example/hooks", secretA), ""},
		{"set on the second", "", block("https://b.example/hooks", secretA)},
		{"set on both alike", block("https://b.example/hooks", secretA), block("https://b.example/hooks", secretA)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfgJSON, err := caddytest.Adapt(t, site(tt.first, tt.second))
			if err != nil {
				t.Fatal(err)
			}
			if err := validateJSON(t, cfgJSON); err != nil {
				t.Fatalf("validate: %v", err)
			}
		})
	}

	cfgJSON, err := caddytest.Adapt(t, site(block("https://b.example/hooks", secretA), block("https://b.example/hooks", secretB)))
	if err != nil {
		t.Fatal(err)
	}
	err = validateJSON(t, cfgJSON)
	want := "handlers disagree on webhook: [https://b.example/hooks] at Caddyfile:"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "https://b.example/hooks") != 2 {
		t.Fatalf("validate with two secrets: %v, want an error containing %q and both URLs", err, want)
	}
	if strings.Contains(err.Error(), secretA) || strings.Contains(err.Error(), secretB) {
		t.Fatalf("error %q shows a secret", err)
	}
	if n := lcPoolSize(); n != 0 {
		t.Fatalf("%d hubs left in the pool after validations: %v", n, lcPoolKeys())
	}
}
