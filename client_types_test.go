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
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
)

// names returns the sorted, distinct first groups of re's matches in s.
func names(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The declarations cover the whole public API of the module: every
// export, every public member of SSEClient, every option it reads.
func TestClientTypesCoverTheModule(t *testing.T) {
	js, dts := string(clientJS), string(clientDTS)
	for _, c := range []struct {
		what        string
		inJS, inDTS *regexp.Regexp
		jsDTSExtra  []string // declared, not found by the JS pattern
	}{
		{"exports", regexp.MustCompile(`(?m)^export (?:const|class|function) (\w+)`),
			regexp.MustCompile(`(?m)^export declare (?:const|class|function) (\w+)`), nil},
		{"SSEClient members", regexp.MustCompile(`(?m)^  (?:get )?([a-z]\w*)\(`),
			regexp.MustCompile(`(?m)^  (?:readonly )?([a-z]\w*)[(:]`), []string{"options", "topics", "url"}},
		{"options", regexp.MustCompile(`options\.(\w+)`),
			regexp.MustCompile(`(?m)^  (\w+)\?{0,1}:`), nil},
	} {
		inJS := names(c.inJS, js)
		if c.what == "SSEClient members" {
			inJS = slices.DeleteFunc(inJS, func(n string) bool { return n == "constructor" })
			inJS = append(inJS, c.jsDTSExtra...)
			slices.Sort(inJS)
		}
		decl := dts
		switch c.what {
		case "SSEClient members":
			decl = dts[strings.Index(dts, "export declare class SSEClient"):]
			decl = decl[:strings.Index(decl, "\n}")]
		case "options":
			decl = dts[strings.Index(dts, "export interface SSEClientOptions"):]
			decl = decl[:strings.Index(decl, "\n}")]
		}
		inDTS := slices.DeleteFunc(names(c.inDTS, decl), func(n string) bool { return n == "constructor" })
		if !slices.Equal(inJS, inDTS) {
			t.Errorf("%s: the module has %v, client.d.ts declares %v", c.what, inJS, inDTS)
		}
	}
}

// tscUsage uses every part of the API as an app would, under strict
// type checking; each @ts-expect-error line must be an error.
const tscUsage = `
import { SSEClient, subscribe, CONNECTING, OPEN, RECONNECTING, CLOSED } from "./caddy-sse-client";
import type {
  SSEEvent, SSEState, SSERole, SSEClientOptions, SSEResetInfo, SSECloseInfo, SSEErrorInfo,
  SSEStateDetail, Unsubscribe,
} from "./caddy-sse-client";

const options: SSEClientOptions = {
  topics: ["users/7/**", "news"],
  token: async () => "token",
  lastEventId: "id-1",
  persist: true,
  replay: 10,
  retry: 500,
  maxRetry: 8000,
  headers: { "X-Trace": "1" },
  credentials: "include",
  shared: "orders",
  onEvent: (ev) => console.log(ev.id),
  onState: (state, detail) => console.log(state, detail.delay),
  onReset: (info) => console.log(info.reason),
  onClose: (info) => console.log(info.retry),
  onError: (info) => console.log(info.fatal),
};
const client = new SSEClient("/events", options);
const off: Unsubscribe = client.on("invoice.paid", (ev: SSEEvent) => {
  const topic: string = ev.topic;
  const topics: string[] = ev.topics;
  const total: number = ev.json<{ total: number }>().total;
  console.log(ev.type, ev.id, ev.data, topic, topics, total);
});
client.onState((state: SSEState, detail: SSEStateDetail) => {
  if (state === "reconnecting") console.log(detail.delay ?? 0, detail.wasOpen);
  if (state === "closed") console.log(detail.reason, detail.status, detail.message);
});
client.onReset(({ id, reason }: SSEResetInfo) => console.log(id, reason));
client.onClose((info: SSECloseInfo) => console.log(info.reason, info.retry === null ? 0 : info.retry + 1));
client.onError((info: SSEErrorInfo) => console.log(info.status, info.message, info.fatal));
const role: SSERole = client.role;
const states: SSEState[] = [CONNECTING, OPEN, RECONNECTING, CLOSED, client.state];
const last: string = client.lastEventId;
console.log(role, states, last, client.url, client.topics, client.options.shared);
off();
client.close();
subscribe("/events", { topics: "news", shared: true }).close();

// Loading the module from the route, as the header of client.d.ts shows.
type Client = typeof import("./caddy-sse-client");
export async function fromRoute(): Promise<SSERole> {
  const route: string = "/events?client";
  const { SSEClient: Remote } = (await import(route)) as Client;
  return new Remote("/events", { topics: ["news"] }).role;
}

// @ts-expect-error topics is required
new SSEClient("/events", {});
// @ts-expect-error shared is a boolean or a key
new SSEClient("/events", { topics: ["news"], shared: 1 });
// @ts-expect-error the state is read-only
client.state = "open";
// @ts-expect-error there is no such state
export const paused: SSEState = "paused";
// @ts-expect-error a listener gets an SSEEvent
client.on("x", (ev: number) => ev);
`

// client.d.ts, as served, type-checks in strict mode against an app that
// uses all of it, with tsc from the npm registry (npx).
func TestClientTypesCheck(t *testing.T) {
	ssetest.SkipShort(t, "TypeScript (npx)")
	npx, err := exec.LookPath("npx")
	if err != nil {
		skipOrFail(t, "no npx in PATH to run tsc; install it with: apt-get install -y npm")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tsc := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, npx, append([]string{"-y", "-p", "typescript@5", "tsc"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := tsc("--version"); err != nil {
		skipOrFail(t, "npx could not run tsc from the npm registry: "+strings.TrimSpace(out))
	}

	tc := startCaddy(t, `
http://127.0.0.1:{PORT} {
	sse /events {
		subscribe_allow **
	}
}`)
	for name, query := range map[string]string{"caddy-sse-client.d.ts": "?client=d.ts", "caddy-sse-client.js": "?client"} {
		resp, body := getWith(t, tc.URL+"/events"+query)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", query, resp.StatusCode, body)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "app.ts"), []byte(tscUsage), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := tsc("--strict", "--noEmit", "--noUncheckedIndexedAccess", "--exactOptionalPropertyTypes",
		"--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2022,dom", "app.ts")
	if err != nil {
		t.Fatalf("tsc --strict: %v\n%s", err, out)
	}
}
