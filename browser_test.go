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

// Browser tests: a real headless Chromium (the Debian package, see
// .ci/run) driven from Go with chromedp, against a real Caddy in this
// process. They synchronise on page state (Poll, WaitVisible), never on
// sleeps.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser: Debian's /usr/bin/chromium, or chromium
// in PATH.
func chromiumPath() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// newBrowser starts a headless Chromium for one test and returns its tab.
// The browser is stopped, and its goroutines gone, when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	ssetest.SkipShort(t, ssetest.TierBrowser)
	path := chromiumPath()
	if path == "" {
		skipOrFail(t, "no Chromium at /usr/bin/chromium or in PATH; install it with: apt-get install -y chromium")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser process to exit
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// browserRun runs actions with a deadline, failing the test on error.
func browserRun(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a script, awaiting a promise it returns, and decodes the
// result into T.
func eval[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %q: %v", script, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	ctx2, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx2, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({got: window.got, states: window.states, closes: window.closes, errors: window.errors})`))
		t.Fatalf("waiting for %s (%s): %v; page state: %s", what, cond, err, dump)
	}
}

// reload loads a config, then drops the idle keep-alive connections to
// the replaced servers, which would fail the next publish (a POST is never
// retried on a connection the server closed).
func reload(tc *testCaddy, caddyfile string) {
	tc.T.Helper()
	tc.Load(caddyfile)
	http.DefaultClient.CloseIdleConnections()
}

// browserPage is a same-origin page for scripts to run in.
const browserPage = `
	header /blank Content-Type "text/html; charset=utf-8"
	respond /blank "<!doctype html><title>blank</title>" 200
`

type browserEvent struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Data  string `json:"data"`
	Topic string `json:"topic"`
}

func countData(evs []browserEvent, data string) int {
	n := 0
	for _, ev := range evs {
		if ev.Data == data {
			n++
		}
	}
	return n
}

// The browser's own EventSource: messages and typed events; after a
// reload it reconnects by itself with Last-Event-ID and gets the event it
// missed while away exactly once.
func TestBrowserEventSource(t *testing.T) {
	live := `
http://127.0.0.1:{PORT} {` + browserPage + `
	sse /events {
		subscribe_allow **
		publish_allow **
	}
}`
	// While this config runs, /events answers with an empty event stream, so
	// the browser keeps reconnecting without getting anything, and the event
	// published meanwhile can only reach it by Last-Event-ID resume.
	away := `
http://127.0.0.1:{PORT} {` + browserPage + `
	handle /events {
		header Content-Type text/event-stream
		respond 200
	}
	sse /publish {
		publish_allow **
	}
}`
	tc := startCaddy(t, live)
	ctx := newBrowser(t)
	browserRun(t, ctx, "open page", chromedp.Navigate(tc.URL+"/blank"))
	eval[chromedp.Void](t, ctx, `
		window.got = []; window.opens = 0; window.closes = [];
		const es = new EventSource("/events?topic=news");
		const record = (e) => got.push({type: e.type, id: e.lastEventId, data: e.data});
		es.onopen = () => opens++;
		es.onmessage = record;
		es.addEventListener("alert", record);
		es.addEventListener("sse.close", (e) => closes.push(JSON.parse(e.data).reason));
		undefined`)
	waitFor(t, ctx, "the stream to open", `window.opens >= 1`)

	id1 := tc.PublishForm("/events", "topic", "news", "data", "hello")
	id2 := tc.PublishForm("/events", "topic", "news", "event", "alert", "data", `{"level":"warn"}`)
	waitFor(t, ctx, "two events", `got.length >= 2`)
	got := eval[[]browserEvent](t, ctx, `got`)
	want := []browserEvent{{"message", id1, "hello", ""}, {"alert", id2, `{"level":"warn"}`, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("EventSource got %v, want %v", got, want)
	}

	reload(tc, away)
	waitFor(t, ctx, "sse.close from the reload", `closes.includes("reload")`)
	opens := eval[int](t, ctx, `opens`)
	waitFor(t, ctx, "a reconnect to the empty stream", fmt.Sprintf(`opens > %d`, opens))
	missed := tc.PublishForm("/publish", "topic", "news", "data", "missed")
	reload(tc, live)
	after := tc.PublishForm("/events", "topic", "news", "data", "after")
	waitFor(t, ctx, "the event after the reload", `got.some((e) => e.data === "after")`)
	got = eval[[]browserEvent](t, ctx, `got`)
	if n := countData(got, "missed"); n != 1 {
		t.Fatalf("the missed event arrived %d times, want once: %v", n, got)
	}
	if got[2] != (browserEvent{"message", missed, "missed", ""}) || got[3] != (browserEvent{"message", after, "after", ""}) || len(got) != 4 {
		t.Fatalf("after the reload got %v", got[2:])
	}
}

// The module client: the token goes in an Authorization header, never in
// the URL; events carry their topic; it recovers from a server-side
// disconnect with growing, jittered delays and resumes with Last-Event-ID;
// sse.reset reaches its callback; persist resumes across page loads.
func TestBrowserClient(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "access.log")
	site := func(events string) string {
		return `
http://127.0.0.1:{PORT} {
	log {
		output file ` + logFile + ` {
			roll_disabled
		}
		format json
	}` + browserPage + `
	@bearer {
		path /events
		header Authorization "Bearer t1"
	}
	` + events + `
	respond /events "token missing" 401
	sse /lib {
		ui
	}
	sse /publish {
		publish_allow **
	}
}`
	}
	live := site("sse @bearer {\n\t\tsubscribe_allow **\n\t}")
	down := site("respond @bearer \"down for maintenance\" 503")
	tc := startCaddy(t, live)
	ctx := newBrowser(t)
	browserRun(t, ctx, "open page", chromedp.Navigate(tc.URL+"/blank"))
	eval[chromedp.Void](t, ctx, `(async () => {
		const { SSEClient } = await import("/lib?client");
		window.SSEClient = SSEClient;
		window.got = []; window.states = []; window.closes = []; window.errors = []; window.resets = [];
		window.client = new SSEClient("/events", { topics: ["orders/*"], token: "t1", maxRetry: 8000 });
		client.onState((state, detail) => states.push({state, delay: detail.delay || 0}));
		client.on("*", (e) => got.push({type: e.type, id: e.id, data: e.data, topic: e.topic}));
		client.onClose((c) => closes.push(c.reason));
		client.onError((e) => errors.push(e.status));
	})()`)
	waitFor(t, ctx, "the client to open", `client.state === "open"`)
	id1 := tc.PublishForm("/publish", "topic", "orders/1", "event", "order.updated", "data", `{"n":1}`)
	waitFor(t, ctx, "the first event", `got.length >= 1`)
	if got := eval[[]browserEvent](t, ctx, `got`); got[0] != (browserEvent{"order.updated", id1, `{"n":1}`, "orders/1"}) {
		t.Fatalf("client got %v", got)
	}

	// The server goes away: the stream ends with sse.close, then every
	// attempt gets a 503 and the client backs off.
	reload(tc, down)
	waitFor(t, ctx, "sse.close from the reload", `closes.includes("reload")`)
	waitFor(t, ctx, "three failed attempts", `errors.filter((s) => s === 503).length >= 3`)
	missed := tc.PublishForm("/publish", "topic", "orders/2", "data", "missed")
	reload(tc, live)
	waitFor(t, ctx, "the client to reopen", `client.state === "open" && got.some((e) => e.data === "missed")`)
	after := tc.PublishForm("/publish", "topic", "orders/3", "data", "after")
	waitFor(t, ctx, "the event after recovery", `got.some((e) => e.data === "after")`)
	got := eval[[]browserEvent](t, ctx, `got`)
	if len(got) != 3 || got[1] != (browserEvent{"message", missed, "missed", "orders/2"}) || got[2] != (browserEvent{"message", after, "after", "orders/3"}) {
		t.Fatalf("after recovery the client got %v", got)
	}
	var delays []float64
	for _, s := range eval[[]struct {
		State string  `json:"state"`
		Delay float64 `json:"delay"`
	}](t, ctx, `states`) {
		if s.State == "reconnecting" {
			delays = append(delays, s.Delay)
		}
	}
	// The first delay follows the server's short reload retry (0.25-1.25 s,
	// halved at most by jitter); each failure doubles the next one.
	if len(delays) < 3 || delays[0] > 1250 || delays[2] <= delays[0] || delays[2] > 8000 {
		t.Fatalf("reconnect delays %v: want the server's retry first, then growing up to maxRetry", delays)
	}

	// A resume id the server does not know: sse.reset reaches onReset.
	eval[chromedp.Void](t, ctx, `
		window.stale = new SSEClient("/events", { topics: ["orders/*"], token: "t1", lastEventId: "junk-1" });
		stale.onReset((r) => resets.push(r));
		undefined`)
	waitFor(t, ctx, "sse.reset", `resets.length === 1`)
	if r := eval[map[string]string](t, ctx, `resets[0]`); r["reason"] != "unknown_id" || r["id"] != after {
		t.Fatalf("reset %v, want reason unknown_id and the newest id %s", r, after)
	}

	// persist: the last id survives a page load and resumes the stream.
	eval[chromedp.Void](t, ctx, `client.close(); stale.close();
		window.keeper = new SSEClient("/events", { topics: ["orders/*"], token: "t1", persist: "orders" });
		keeper.on("message", (e) => got.push({type: e.type, id: e.id, data: e.data, topic: e.topic}));
		undefined`)
	waitFor(t, ctx, "the persisting client to open", `keeper.state === "open"`)
	tc.PublishForm("/publish", "topic", "orders/4", "data", "before page load")
	waitFor(t, ctx, "the event before the page load", `got.some((e) => e.data === "before page load")`)
	browserRun(t, ctx, "load the page again", chromedp.Navigate(tc.URL+"/blank?again"))
	while := tc.PublishForm("/publish", "topic", "orders/5", "data", "while loading")
	eval[chromedp.Void](t, ctx, `(async () => {
		const { SSEClient } = await import("/lib?client");
		window.got = [];
		window.keeper = new SSEClient("/events", { topics: ["orders/*"], token: "t1", persist: "orders" });
		keeper.on("*", (e) => got.push({type: e.type, id: e.id, data: e.data, topic: e.topic}));
	})()`)
	waitFor(t, ctx, "the event published during the page load", `got.length >= 1`)
	if got := eval[[]browserEvent](t, ctx, `got`); got[0] != (browserEvent{"message", while, "while loading", "orders/5"}) {
		t.Fatalf("after a page load the persisting client got %v", got)
	}
	eval[chromedp.Void](t, ctx, `keeper.close()`)

	// What reached the server: subscribe URLs without the token, and an
	// Authorization header (Caddy redacts its value in the log).
	checkAccessLog(t, logFile)
}

func checkAccessLog(t *testing.T, logFile string) {
	t.Helper()
	var subscribes int
	// The log is written when a request ends; the streams above have.
	for deadline := time.Now().Add(10 * time.Second); ; {
		subscribes = 0
		b, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var entry struct {
				Status  int `json:"status"`
				Request struct {
					URI     string              `json:"uri"`
					Headers map[string][]string `json:"headers"`
				} `json:"request"`
			}
			if json.Unmarshal(sc.Bytes(), &entry) != nil || !strings.HasPrefix(entry.Request.URI, "/events?") {
				continue
			}
			if strings.Contains(entry.Request.URI, "t1") || strings.Contains(entry.Request.URI, "token") {
				t.Fatalf("the token reached the server in a URL: %s", entry.Request.URI)
			}
			if len(entry.Request.Headers["Authorization"]) == 0 {
				t.Fatalf("a subscribe without Authorization header: %s", sc.Text())
			}
			subscribes++
		}
		if subscribes >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a file, not waiting for an event
	}
	if subscribes < 4 {
		t.Fatalf("access log holds %d subscribe requests, want at least 4", subscribes)
	}
}

// screenshot captures the page, saves it under the test's temporary
// directory (gone with the test, never in the repository) and returns the
// PNG.
func screenshot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot saved as %s", path)
	return b
}

// checkNotBlank fails unless the PNG shows a rendered page: many colours
// and a fair share of pixels that are not the background.
func checkNotBlank(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	colours := make(map[uint32]bool)
	nonWhite, total := 0, 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
			if r < 0xf000 || g < 0xf000 || b < 0xf000 {
				nonWhite++
			}
			total++
		}
	}
	if len(colours) < 16 || nonWhite*100 < total {
		t.Fatalf("the screenshot looks blank: %d colours, %d of %d pixels not white", len(colours), nonWhite, total)
	}
	t.Logf("screenshot: %dx%d, %d colours, %d%% of pixels not white", bounds.Dx(), bounds.Dy(), len(colours), nonWhite*100/total)
}
