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

// The README's shell examples, run as a reader runs them: every sh block
// (and any block of another fence holding command lines) is either run
// against a Caddy built with the plugin, with its output checked against
// what the README shows, or listed with the reason it cannot run. A block
// the list does not know fails the test, so a new example is never
// silently unchecked.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeShellExample is what the test does with one shell block of the
// README, known by the start of its first line.
type readmeShellExample struct {
	marker string
	// skip says why the test does not run the block; empty for one it runs.
	skip string
	// scenario is the setting the block runs in: "example" (a Caddy the test
	// starts on Caddyfile.example), "jwt" (the README's JWT walkthrough) or
	// "redis" (two instances of examples/redis/Caddyfile, which the block
	// starts itself).
	scenario string
	// check reads what the block printed; it may open streams the next
	// blocks of its scenario publish to.
	check func(t *testing.T, sc *readmeScenario, run *blockRun)
}

// readmeShellExamples lists every shell block of the README, in README order.
var readmeShellExamples = []readmeShellExample{
	{marker: "go run github.com/caddyserver/xcaddy/cmd/xcaddy@", skip: "the build and `caddy run`: " +
		"caddyBinary builds Caddy exactly so (TestReadmeCommands keeps the two in step), and the test " +
		"starts that binary on Caddyfile.example itself, on free ports"},
	{marker: "go test -race -count=1 -timeout 60m ./...", skip: "the suite itself (.ci/run runs it; TestReadmeCommands checks the line)"},
	{marker: "curl -N 'http://localhost:8080/events?topic=news'", scenario: "example", check: checkQuickstart},
	{marker: "export SSE_JWT_KEY=", scenario: "jwt", check: checkMintToken},
	{marker: "BACKEND_TOKEN=$(./caddy sse token", scenario: "jwt", check: checkBackendPublish},
	{marker: "curl -d topic=news/eu -d topic=news/us", scenario: "example", check: checkPrintsIDs},
	{marker: "curl -H 'Content-Type: application/json' -d '{\"topic\":\"news/eu\"", scenario: "example", check: checkShownOutput},
	{marker: "PORT=8081 ADMIN_PORT=2021 ./caddy start", scenario: "redis", check: checkRedisInstances},
	{marker: "curl -d hub=example -d topic=news -d data='from the admin API'", scenario: "example", check: checkAdminReads},
	{marker: "id=$(curl -s http://localhost:2019/sse/hubs/example/subscribers", scenario: "example", check: checkAdminDelete},
	{marker: "./caddy sse token --key 0123456789abcdef", scenario: "example", check: checkCLIToken},
	{marker: "./caddy sse publish --hub example", scenario: "example", check: checkPrintsIDs},
}

// readmeShellBlocks returns the README's shell blocks, each with the entry
// of readmeShellExamples that knows it; it fails the test for a block no
// entry knows, a block two entries know, and an entry no block matches.
func readmeShellBlocks(t *testing.T) (all []readmeBlock, known map[int]readmeShellExample) {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	all = readmeBlocks(string(readme))
	known = make(map[int]readmeShellExample)
	used := make(map[string]bool)
	for i, b := range all {
		if !b.isShell() {
			continue
		}
		var match []readmeShellExample
		for _, ex := range readmeShellExamples {
			if strings.HasPrefix(b.first(), ex.marker) {
				match = append(match, ex)
			}
		}
		switch len(match) {
		case 0:
			t.Errorf("README.md:%d: a shell block readmeShellExamples does not list; add an entry that runs and checks it, "+
				"or one saying why it cannot run. The block:\n%s", b.line, b.text)
		case 1:
			if used[match[0].marker] {
				t.Errorf("README.md:%d: a second block starting with %q; give one of them another first line", b.line, match[0].marker)
			}
			used[match[0].marker] = true
			known[i] = match[0]
		default:
			t.Errorf("README.md:%d: several entries of readmeShellExamples match the block starting %q", b.line, b.first())
		}
	}
	for _, ex := range readmeShellExamples {
		if !used[ex.marker] {
			t.Errorf("readmeShellExamples lists %q, which no shell block of the README starts with any more", ex.marker)
		}
		if (ex.skip == "") == (ex.check == nil) || (ex.skip == "") == (ex.scenario == "") {
			t.Errorf("entry %q: give either a skip reason, or a scenario and a check", ex.marker)
		}
	}
	return all, known
}

// TestReadmeShellBlocksListed is the fast half: every shell block of the
// README is known to TestReadmeShellExamples, which runs them.
func TestReadmeShellBlocksListed(t *testing.T) {
	readmeShellBlocks(t)
}

// readmePorts are the ports the README's commands and Caddyfiles use. The
// test gives each a free port, replacing ":<port>" and "=<port>" (as in
// localhost:8080 and PORT=8081), so that it runs beside other tests and
// anything already listening on them.
var readmePorts = []int{8080, 2019, 8081, 8082, 2021, 2022}

// readmeScenario is one setting the README's blocks run in: a directory
// where ./caddy is the binary the test built, Caddyfile.example and
// examples/ the repository's (with the ports replaced), one shell, and
// what the checks keep for the blocks after them.
type readmeScenario struct {
	name    string
	bin     string
	dir     string
	env     []string
	ports   map[int]int
	replace *strings.Replacer
	shell   *shellSession

	caddy   *caddyProcess          // the Caddy the test started, if any
	subs    map[string]*subscriber // curl -N subscribers a check keeps open, by name
	streams map[string]*sseStream  // streams a check opened itself, by name
}

// TestReadmeShellExamples runs the README's shell blocks (see
// readmeShellExamples) against Caddy built with the plugin, with these
// substitutions only: the ports of readmePorts, `./caddy sse publish`
// given `--address` (its default is the README's admin port, 2019), and,
// in the JWT walkthrough, https://example.com served as
// http://localhost:<port>. Blocks run in README order within a scenario.
func TestReadmeShellExamples(t *testing.T) {
	all, known := readmeShellBlocks(t)
	if t.Failed() {
		t.FailNow()
	}
	bin := caddyBinary(t)
	for _, name := range []string{"example", "jwt", "redis"} {
		t.Run(name, func(t *testing.T) {
			sc := newReadmeScenario(t, name, bin)
			for i, b := range all {
				ex, ok := known[i]
				if !ok || ex.scenario != name {
					continue
				}
				t.Logf("README.md:%d: running the block %q", b.line, b.first())
				run := sc.runBlock(t, all, i)
				ex.check(t, sc, run)
				if t.Failed() {
					t.FailNow()
				}
			}
		})
	}
}

func newReadmeScenario(t *testing.T, name, bin string) *readmeScenario {
	t.Helper()
	sc := &readmeScenario{name: name, bin: bin, dir: t.TempDir(), ports: make(map[int]int),
		subs: make(map[string]*subscriber), streams: make(map[string]*sseStream)}
	var pairs []string
	for _, p := range readmePorts {
		sc.ports[p] = freePort(t)
		pairs = append(pairs, fmt.Sprintf(":%d", p), fmt.Sprintf(":%d", sc.ports[p]),
			fmt.Sprintf("=%d", p), fmt.Sprintf("=%d", sc.ports[p]))
	}
	admin := fmt.Sprintf("localhost:%d", sc.ports[2019])
	pairs = append(pairs,
		"./caddy sse publish ", "./caddy sse publish --address "+admin+" ",
		"https://example.com", fmt.Sprintf("http://localhost:%d", sc.ports[8080]))
	sc.replace = strings.NewReplacer(pairs...)

	if err := os.Symlink(bin, filepath.Join(sc.dir, "caddy")); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"Caddyfile.example", "examples/redis/Caddyfile"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sc.writeFile(t, file, sc.replace.Replace(string(b)))
	}
	p := &caddyProcess{bin: bin, dir: sc.dir}
	sc.env = p.env()
	switch name {
	case "example":
		sc.caddy = sc.startCaddy(t, "Caddyfile.example")
	case "redis":
		// The README: REDIS_URL for another Redis, SSE_KEY_PREFIX to keep
		// the stream apart from others on the same Redis (other test runs).
		url := redisURL(t)
		sc.env = append(sc.env, "REDIS_URL="+url, "SSE_KEY_PREFIX="+redisKeyPrefix(t, url))
		t.Cleanup(func() {
			// Instances a failed check left running, stopped by their admin ports.
			for _, admin := range []int{sc.ports[2021], sc.ports[2022]} {
				_, _ = p.run(exitDeadline, "stop", "--address", fmt.Sprintf("localhost:%d", admin))
			}
		})
	}
	sc.shell = startShell(t, sc.dir, sc.env)
	return sc
}

// writeFile writes a file of the scenario's directory.
func (sc *readmeScenario) writeFile(t *testing.T, name, text string) {
	t.Helper()
	path := filepath.Join(sc.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startCaddy runs `caddy run --config <config>` in the scenario's
// directory, as the README's `./caddy run --config Caddyfile.example` does.
func (sc *readmeScenario) startCaddy(t *testing.T, config string, env ...string) *caddyProcess {
	t.Helper()
	p := &caddyProcess{bin: sc.bin, dir: sc.dir, Admin: fmt.Sprintf("localhost:%d", sc.ports[2019]),
		Port: sc.ports[8080], URL: fmt.Sprintf("http://localhost:%d", sc.ports[8080]), log: new(syncBuffer)}
	return runCaddyProcess(t, p, filepath.Join(sc.dir, config), env...)
}

// blockRun is what running one block gave.
type blockRun struct {
	block readmeBlock
	after []readmeBlock // the README's blocks after it: the output it shows
	cmds  []*shellCommand
	subs  []*subscriber
}

// cmdEnding returns the command of the run whose text ends with suffix.
func (r *blockRun) cmdEnding(t *testing.T, suffix string) *shellCommand {
	t.Helper()
	for _, c := range r.cmds {
		if strings.HasSuffix(c.text, suffix) {
			return c
		}
	}
	t.Fatalf("README.md:%d: no command ending with %q in the block", r.block.line, suffix)
	return nil
}

// cmd returns the command of the run whose text starts with prefix.
func (r *blockRun) cmd(t *testing.T, prefix string) *shellCommand {
	t.Helper()
	for _, c := range r.cmds {
		if strings.HasPrefix(c.text, prefix) {
			return c
		}
	}
	t.Fatalf("README.md:%d: no command starting with %q in the block", r.block.line, prefix)
	return nil
}

// runBlock runs the commands of block i in order: each `curl -N` in a
// terminal of its own, waiting until its stream is open; every other
// command in the scenario's shell.
func (sc *readmeScenario) runBlock(t *testing.T, all []readmeBlock, i int) *blockRun {
	t.Helper()
	run := &blockRun{block: all[i], after: all[i+1:]}
	for _, c := range splitCommands(sc.replace.Replace(all[i].text)) {
		if c.subscribes() {
			run.subs = append(run.subs, startSubscriber(t, sc.dir, sc.env, c.text))
			continue
		}
		c.out = sc.shell.run(c.text)
		run.cmds = append(run.cmds, c)
	}
	return run
}

// eventIDRE matches an event id as the hub gives them out.
var eventIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// quotedIDRE matches an event id inside JSON or a README example.
var quotedIDRE = regexp.MustCompile(`"[A-Za-z0-9_-]{22}"`)

// checkPrintsIDs: every command of the block prints one event id.
func checkPrintsIDs(t *testing.T, _ *readmeScenario, run *blockRun) {
	for _, c := range run.cmds {
		if id := strings.TrimSuffix(c.out, "\n"); !eventIDRE.MatchString(id) || id+"\n" != c.out {
			t.Errorf("%s\nprinted %q; want an event id and a newline", c.text, c.out)
		}
	}
}

// checkShownOutput: every command prints what the "# …" line under it
// shows, ids aside.
func checkShownOutput(t *testing.T, _ *readmeScenario, run *blockRun) {
	for _, c := range run.cmds {
		want := strings.Join(c.shown, "\n") + "\n"
		if got := quotedIDRE.ReplaceAllString(c.out, `"<id>"`); got != quotedIDRE.ReplaceAllString(want, `"<id>"`) {
			t.Errorf("%s\nprinted %q; the README shows %q", c.text, c.out, want)
		}
	}
}

// checkQuickstart: the publisher prints the event's id, and the subscriber
// prints exactly what the README shows under the block, with that id.
func checkQuickstart(t *testing.T, sc *readmeScenario, run *blockRun) {
	checkPrintsIDs(t, sc, run)
	if len(run.subs) != 1 || len(run.cmds) != 1 {
		t.Fatalf("README.md:%d: want one subscriber and one publisher, got %d and %d", run.block.line, len(run.subs), len(run.cmds))
	}
	id := strings.TrimSpace(run.cmds[0].out)
	shown := run.after[0].text
	// The opening block's id (the line after retry:) is the hub's
	// position, different in every run; the event's is the one published.
	lines := strings.Split(shown, "\n")
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "id: ") && i > 0 && strings.HasPrefix(lines[i-1], "retry: "):
			lines[i] = `id: [A-Za-z0-9_-]{22}`
		case strings.HasPrefix(line, "id: "):
			lines[i] = regexp.QuoteMeta("id: " + id)
		default:
			lines[i] = regexp.QuoteMeta(line)
		}
	}
	want := regexp.MustCompile(`\A` + strings.Join(lines, "\n"))
	got := run.subs[0].wait(t, "the event published", func(out string) bool {
		return want.MatchString(out) || len(out) >= len(shown)+len(id)
	})
	if !want.MatchString(got) {
		t.Fatalf("the subscriber printed:\n%s\nthe README shows (with the id published):\n%s", got, shown)
	}
	sc.subs["quickstart"] = run.subs[0]
}

// jsonShape describes a JSON document by its keys and the kinds of its
// values, so that the README's example answers are checked for their
// fields, not for counters and ids that differ from run to run.
func jsonShape(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	var shape func(v any) string
	shape = func(v any) string {
		switch v := v.(type) {
		case map[string]any:
			var fields []string
			for k, x := range v {
				fields = append(fields, k+":"+shape(x))
			}
			slices.Sort(fields)
			return "{" + strings.Join(fields, ",") + "}"
		case []any:
			if len(v) == 0 {
				return "[]"
			}
			return "[" + shape(v[0]) + "…]"
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "bool"
		}
		return "null"
	}
	return shape(v)
}

// checkAdminReads: the publishes print ids; GET /sse/hubs and
// GET …/subscribers answer with the fields of the README's examples (the
// two json blocks under the block).
func checkAdminReads(t *testing.T, _ *readmeScenario, run *blockRun) {
	// A form publish answers with the id, a JSON one with {"id":…}, as on a route.
	form, jsonPublish := run.cmds[0], run.cmds[1]
	if !eventIDRE.MatchString(strings.TrimSpace(form.out)) {
		t.Errorf("%s\nprinted %q; want an event id", form.text, form.out)
	}
	if got := quotedIDRE.ReplaceAllString(jsonPublish.out, `"<id>"`); got != `{"id":"<id>"}`+"\n" {
		t.Errorf("%s\nprinted %q; want {\"id\":\"<event id>\"}", jsonPublish.text, jsonPublish.out)
	}
	var shown []readmeBlock
	for _, b := range run.after {
		if b.lang == "json" {
			shown = append(shown, b)
		}
	}
	if len(shown) < 2 {
		t.Fatalf("README.md:%d: want the answers of /sse/hubs and …/subscribers in json blocks after the block", run.block.line)
	}
	hubs, subs := run.cmdEnding(t, "/sse/hubs"), run.cmdEnding(t, "/sse/hubs/example/subscribers")
	for _, pair := range []struct {
		c     *shellCommand
		shown readmeBlock
	}{{hubs, shown[0]}, {subs, shown[1]}} {
		if got, want := jsonShape(t, pair.c.out), jsonShape(t, pair.shown.text); got != want {
			t.Errorf("%s\nprinted %s\nwhose fields are %s;\nthe README (line %d) shows %s\nwhose fields are %s",
				pair.c.text, pair.c.out, got, pair.shown.line, pair.shown.text, want)
		}
	}
}

// checkAdminDelete: the DELETE of the oldest stream (the quickstart's
// subscriber) answers as the README shows, and that subscriber prints the
// sse.close the README shows under the block, then exits.
func checkAdminDelete(t *testing.T, sc *readmeScenario, run *blockRun) {
	del := run.cmd(t, "curl -X DELETE")
	if got, want := jsonShape(t, del.out), jsonShape(t, strings.Join(del.shown, "\n")); got != want {
		t.Errorf("%s\nprinted %s; the README shows %v", del.text, del.out, del.shown)
	}
	var answer struct {
		Hub    string `json:"hub"`
		Reason string `json:"reason"`
		Retry  int    `json:"retry"`
	}
	if err := json.Unmarshal([]byte(del.out), &answer); err != nil || answer.Hub != "example" ||
		answer.Reason != "disconnected" || answer.Retry != 300000 {
		t.Errorf("%s\nprinted %s; want hub example, reason disconnected, retry 300000", del.text, del.out)
	}
	sub := sc.subs["quickstart"]
	if sub == nil {
		t.Fatal("the quickstart's subscriber is not open")
	}
	sub.waitExit(t)
	want := run.after[0].text
	if out := sub.out.String(); !strings.HasSuffix(out, "\n"+want) {
		t.Errorf("the subscriber printed:\n%s\nwhich does not end with what the README (line %d) shows:\n%s", out, run.after[0].line, want)
	}
}

// jwtClaims decodes the claims of a JWT a command printed.
func jwtClaims(t *testing.T, printed string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(printed), ".")
	if len(parts) != 3 {
		t.Fatalf("printed %q, which is not a JWT", printed)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err == nil {
		err = json.Unmarshal(payload, &claims)
	}
	if err != nil {
		t.Fatalf("the claims of %q: %v", printed, err)
	}
	return claims
}

// checkCLIToken: the token carries the sub, grants and lifetime the
// command's flags name.
func checkCLIToken(t *testing.T, _ *readmeScenario, run *blockRun) {
	claims := jwtClaims(t, run.cmds[0].out)
	sse, _ := claims["sse"].(map[string]any)
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	got := fmt.Sprint(claims["sub"], " ", sse["subscribe"], " ", exp-iat)
	if want := "42 [users/42/** news] 3600"; got != want {
		t.Errorf("the token's sub, sse.subscribe and lifetime are %s, want %s", got, want)
	}
}
