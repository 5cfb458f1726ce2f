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

// Browser tests of the client's shared mode and of pagehide/pageshow:
// several tabs of one headless Chromium against a real Caddy in this
// process, with the server's stream count read from the hub.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// sharedSite serves a page to run scripts in and a route whose hub,
// "tabs", no other test uses, so its subscriber count is this test's.
const sharedSite = `
http://127.0.0.1:{PORT} {` + browserPage + `
	sse /events {
		hub tabs
		subscribe_allow **
		publish_allow **
	}
}`

// openTab opens a new tab of the browser on the blank page and starts a
// client there with these options (JavaScript), recording what it gets.
func openTab(t *testing.T, browser context.Context, url, options string) context.Context {
	t.Helper()
	ctx := newTab(t, browser)
	browserRun(t, ctx, "open a tab", chromedp.Navigate(url+"/blank"))
	eval[chromedp.Void](t, ctx, `(async () => {
		const { SSEClient } = await import("/events?client");
		window.got = []; window.states = []; window.resets = [];
		window.client = new SSEClient("/events", `+options+`);
		client.on("*", (e) => got.push({type: e.type, id: e.id, data: e.data, topic: e.topic}));
		client.onState((s) => states.push(s));
		client.onReset((r) => resets.push(r));
	})()`)
	return ctx
}

// newTab opens a tab of the browser. Its first action runs on its own
// context: a context with a deadline would end the tab with the deadline.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return ctx
}

// takeOver waits until one of the tabs has this role and state, and
// returns its index.
func takeOver(t *testing.T, tabs []context.Context, want string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		for i, tab := range tabs {
			if roleOf(t, tab) == want {
				return i
			}
		}
	}
	t.Fatalf("no tab is %q after 10s", want)
	return -1
}

func roleOf(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `String(client.role) + " " + client.state`)
}

// checkGot waits until the tab has as many events as want, then checks
// that it has exactly these, in this order.
func checkGot(t *testing.T, ctx context.Context, tab string, want []browserEvent) {
	t.Helper()
	waitFor(t, ctx, fmt.Sprintf("%s to get %d events", tab, len(want)), fmt.Sprintf(`got.length >= %d`, len(want)))
	got := eval[[]browserEvent](t, ctx, `got`)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s got %v\nwant %v", tab, got, want)
	}
}

// Three tabs with shared: true hold one stream on the server between
// them, and each gets every event once, in order. When the leader tab
// closes, another takes over within a second and resumes from the last id
// it saw: events published meanwhile reach every remaining tab once. A
// tab hidden (pagehide) leaves the group, another takes over, and when it
// comes back (pageshow) the leader hands it what it missed.
func TestBrowserSharedTabs(t *testing.T) {
	tc := startCaddy(t, sharedSite)
	browser := newBrowser(t)
	browserRun(t, browser, "open the first tab", chromedp.Navigate(tc.URL+"/blank"))
	// The token function lets the test hold a tab's connection (window.hold).
	const shared = `{ topics: ["news"], shared: true, token: () => window.hold || "" }`
	var tabs []context.Context
	for range 3 {
		tabs = append(tabs, openTab(t, browser, tc.URL, shared))
	}
	for i, tab := range tabs {
		waitFor(t, tab, fmt.Sprintf("tab %d to open", i), `client.state === "open"`)
	}
	waitSubscribers(t, "tabs", 1)
	leader := -1
	for i, tab := range tabs {
		switch role := roleOf(t, tab); role {
		case "leader open":
			if leader >= 0 {
				t.Fatalf("tabs %d and %d both lead", leader, i)
			}
			leader = i
		case "follower open":
		default:
			t.Fatalf("tab %d: role and state %q", i, role)
		}
	}
	if leader < 0 {
		t.Fatal("no tab leads")
	}

	var want []browserEvent
	publish := func(data string) {
		id := tc.PublishForm("/events", "topic", "news", "data", data)
		want = append(want, browserEvent{"message", id, data, "news"})
	}
	for i := range 3 {
		publish(fmt.Sprintf("before %d", i))
	}
	for i, tab := range tabs {
		checkGot(t, tab, fmt.Sprintf("tab %d", i), want)
	}
	if st, _ := itHubStats("tabs"); st.Subscribers != 1 {
		t.Fatalf("%d streams for three tabs, want 1", st.Subscribers)
	}

	// The leader tab closes. The tab that takes over waits for its token
	// until the test lets it go, so events published meanwhile reach no
	// stream and can only come by resume.
	for _, tab := range tabs {
		eval[chromedp.Void](t, tab, `window.hold = new Promise((resolve) => { window.release = () => resolve(""); }); undefined`)
	}
	if err := chromedp.Cancel(tabs[leader]); err != nil {
		t.Fatalf("closing the leader tab: %v", err)
	}
	closed := time.Now()
	rest := append(tabs[:leader:leader], tabs[leader+1:]...)
	newLeader := takeOver(t, rest, "leader connecting")
	if took := time.Since(closed); took > time.Second {
		t.Errorf("another tab took over after %v, want within a second", took)
	}
	waitSubscribers(t, "tabs", 0)
	publish("during the handover 1")
	publish("during the handover 2")
	before, _ := itHubStats("tabs")
	for _, tab := range rest {
		eval[chromedp.Void](t, tab, `window.hold = null; release()`)
	}
	waitFor(t, rest[newLeader], "the new leader to open", `client.state === "open"`)
	publish("after the handover")
	for i, tab := range rest {
		checkGot(t, tab, fmt.Sprintf("remaining tab %d", i), want)
	}
	if after, _ := itHubStats("tabs"); after.Replayed-before.Replayed != 2 {
		t.Errorf("the new leader's stream replayed %d events, want the 2 of the handover", after.Replayed-before.Replayed)
	}
	waitSubscribers(t, "tabs", 1)

	// The new leader's page is hidden: the other tab takes over, and the
	// hidden one gets nothing until it is shown again, then what it missed.
	hidden, other := rest[newLeader], rest[1-newLeader]
	eval[chromedp.Void](t, hidden, `dispatchEvent(new PageTransitionEvent("pagehide", { persisted: true }))`)
	if role := roleOf(t, hidden); role != "null closed" {
		t.Fatalf("after pagehide: role and state %q", role)
	}
	hiddenAt := time.Now()
	takeOver(t, []context.Context{other}, "leader open")
	if took := time.Since(hiddenAt); took > time.Second {
		t.Errorf("the other tab took over and opened after %v, want within a second", took)
	}
	waitSubscribers(t, "tabs", 1)
	publish("while hidden")
	checkGot(t, other, "the tab left", want)
	if n := eval[int](t, hidden, `got.length`); n != len(want)-1 {
		t.Fatalf("the hidden tab got %d events, want %d", n, len(want)-1)
	}
	eval[chromedp.Void](t, hidden, `dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }))`)
	waitFor(t, hidden, "the shown tab to follow", `client.role === "follower" && client.state === "open"`)
	publish("shown again")
	checkGot(t, hidden, "the shown tab", want)
	checkGot(t, other, "the leading tab", want)
	waitSubscribers(t, "tabs", 1)
	if states := eval[[]string](t, hidden, `states`); fmt.Sprint(states[len(states)-3:]) != "[closed connecting open]" {
		t.Errorf("the hidden tab's states %v, want closed, connecting, open at the end", states)
	}
	if n := eval[int](t, hidden, `resets.length`); n != 0 {
		t.Errorf("%d resets in the shown tab, want none", n)
	}
}

// A client of its own closes its stream on pagehide, so the server frees
// it, and resumes from the last id on pageshow; without Web Locks a shared
// client keeps a stream of its own.
func TestBrowserClientPageHide(t *testing.T) {
	tc := startCaddy(t, sharedSite)
	browser := newBrowser(t)
	browserRun(t, browser, "open the first tab", chromedp.Navigate(tc.URL+"/blank"))
	tab := openTab(t, browser, tc.URL, `{ topics: ["news"] }`)
	waitFor(t, tab, "the client to open", `client.state === "open"`)
	waitSubscribers(t, "tabs", 1)
	var want []browserEvent
	publish := func(data string) {
		id := tc.PublishForm("/events", "topic", "news", "data", data)
		want = append(want, browserEvent{"message", id, data, "news"})
	}
	publish("before")
	checkGot(t, tab, "the tab", want)

	eval[chromedp.Void](t, tab, `dispatchEvent(new PageTransitionEvent("pagehide", { persisted: true }))`)
	if role := roleOf(t, tab); role != "null closed" {
		t.Fatalf("after pagehide: role and state %q", role)
	}
	waitSubscribers(t, "tabs", 0)
	publish("while hidden")
	eval[chromedp.Void](t, tab, `dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }))`)
	checkGot(t, tab, "the shown tab", want)
	if role := roleOf(t, tab); role != "private open" {
		t.Fatalf("after pageshow: role and state %q", role)
	}
	publish("after")
	checkGot(t, tab, "the shown tab", want)
	waitSubscribers(t, "tabs", 1)
	// close() for good: a later pageshow does not reopen it.
	eval[chromedp.Void](t, tab, `client.close(); dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }))`)
	if role := roleOf(t, tab); role != "null closed" {
		t.Fatalf("pageshow after close: role and state %q", role)
	}
	waitSubscribers(t, "tabs", 0)

	// No Web Locks (an old browser): shared: true falls back to a stream of
	// the tab's own.
	fallback := newTab(t, browser)
	browserRun(t, fallback, "open a tab", chromedp.Navigate(tc.URL+"/blank"))
	eval[chromedp.Void](t, fallback, `Object.defineProperty(navigator, "locks", { value: undefined }); undefined`)
	eval[chromedp.Void](t, fallback, `(async () => {
		const { SSEClient } = await import("/events?client");
		window.got = [];
		window.client = new SSEClient("/events", { topics: ["news"], shared: true });
		client.on("*", (e) => got.push({type: e.type, id: e.id, data: e.data, topic: e.topic}));
	})()`)
	waitFor(t, fallback, "the fallback client to open", `client.state === "open"`)
	if role := roleOf(t, fallback); role != "private open" {
		t.Fatalf("without Web Locks: role and state %q", role)
	}
	waitSubscribers(t, "tabs", 1)
	want = want[:0]
	publish("to the fallback")
	checkGot(t, fallback, "the fallback tab", want)
}
