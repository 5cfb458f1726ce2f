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

// Browser tests of the opening id (a resume point before the first event)
// and of the client's onPresence.

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// The browser's own EventSource, on a stream that got no event yet: when
// it reconnects it sends the opening id as Last-Event-ID and gets what was
// published while it was away.
func TestBrowserEventSourceOpeningID(t *testing.T) {
	live := `
http://127.0.0.1:{PORT} {` + browserPage + `
	sse /events {
		hub opening
		subscribe_allow **
		publish_allow **
	}
}`
	// While this config runs, /events is an empty event stream: the event
	// published meanwhile can only reach the page by resume.
	away := `
http://127.0.0.1:{PORT} {` + browserPage + `
	handle /events {
		header Content-Type text/event-stream
		respond 200
	}
	sse /publish {
		hub opening
		publish_allow **
	}
}`
	tc := startCaddy(t, live)
	ctx := newBrowser(t)
	browserRun(t, ctx, "open page", chromedp.Navigate(tc.URL+"/blank"))
	eval[chromedp.Void](t, ctx, `
		window.got = []; window.opens = 0; window.closes = [];
		const es = new EventSource("/events?topic=news");
		es.onopen = () => opens++;
		es.onmessage = (e) => got.push({type: e.type, id: e.lastEventId, data: e.data});
		es.addEventListener("sse.close", (e) => closes.push(JSON.parse(e.data).reason));
		undefined`)
	waitFor(t, ctx, "the stream to open", `window.opens >= 1`)
	waitSubscribers(t, "opening", 1)

	reload(tc, away)
	waitFor(t, ctx, "sse.close from the reload", `closes.includes("reload")`)
	opens := eval[int](t, ctx, `opens`)
	waitFor(t, ctx, "a reconnect to the empty stream", fmt.Sprintf(`opens > %d`, opens))
	missed := tc.PublishForm("/publish", "topic", "news", "data", "missed")
	reload(tc, live)
	after := tc.PublishForm("/events", "topic", "news", "data", "after")
	waitFor(t, ctx, "the event after the reload", `got.some((e) => e.data === "after")`)
	got := eval[[]browserEvent](t, ctx, `got`)
	want := []browserEvent{{"message", missed, "missed", ""}, {"message", after, "after", ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("EventSource got %v, want %v: the event published while it was away, then the next", got, want)
	}
}

// A shared group whose leader closes before any event: the tab that takes
// over resumes from the stream's opening id, so what was published during
// the handover reaches it.
func TestBrowserSharedHandoverBeforeFirstEvent(t *testing.T) {
	site := `
http://127.0.0.1:{PORT} {` + browserPage + `
	sse /events {
		hub tabs-start
		subscribe_allow **
		publish_allow **
	}
}`
	tc := startCaddy(t, site)
	browser := newBrowser(t)
	browserRun(t, browser, "open the first tab", chromedp.Navigate(tc.URL+"/blank"))
	// The token function lets the test hold a tab's connection (window.hold).
	const shared = `{ topics: ["news"], shared: true, token: () => window.hold || "" }`
	tabs := []context.Context{openTab(t, browser, tc.URL, shared), openTab(t, browser, tc.URL, shared)}
	for i, tab := range tabs {
		waitFor(t, tab, fmt.Sprintf("tab %d to open", i), `client.state === "open" && client.lastEventId !== ""`)
	}
	waitSubscribers(t, "tabs-start", 1)
	leader := takeOver(t, tabs, "leader open")
	other := tabs[1-leader]
	for _, tab := range tabs {
		eval[chromedp.Void](t, tab, `window.hold = new Promise((resolve) => { window.release = () => resolve(""); }); undefined`)
	}
	if err := chromedp.Cancel(tabs[leader]); err != nil {
		t.Fatalf("closing the leader tab: %v", err)
	}
	takeOver(t, []context.Context{other}, "leader connecting")
	waitSubscribers(t, "tabs-start", 0)
	var want []browserEvent
	for i := range 2 {
		data := "during the handover " + strconv.Itoa(i)
		want = append(want, browserEvent{"message", tc.PublishForm("/events", "topic", "news", "data", data), data, "news"})
	}
	eval[chromedp.Void](t, other, `window.hold = null; release()`)
	waitFor(t, other, "the new leader to open", `client.state === "open"`)
	checkGot(t, other, "the tab that took over", want)
	if n := eval[int](t, other, `resets.length`); n != 0 {
		t.Errorf("%d resets, want none", n)
	}
}

// Two users in a room follow its members with onPresence: each sees the
// other join and leave; alice's two tabs, sharing one stream, are one
// member.
func TestBrowserOnPresence(t *testing.T) {
	site := `
http://127.0.0.1:{PORT} {` + browserPage + `
	sse /chat {
		hub room
		presence
		presence_grace 50ms
		jwt {
			key ` + jwtTestSecret + `
		}
	}
}`
	tc := startCaddy(t, site)
	browser := newBrowser(t)
	browserRun(t, browser, "open the first tab", chromedp.Navigate(tc.URL+"/blank"))
	open := func(user string, shared bool) context.Context {
		t.Helper()
		token := presenceToken(t, user, "rooms/42")
		ctx := newTab(t, browser)
		browserRun(t, ctx, "open a tab", chromedp.Navigate(tc.URL+"/blank"))
		eval[chromedp.Void](t, ctx, fmt.Sprintf(`(async () => {
			const { SSEClient } = await import("/chat?client");
			window.lists = [];
			window.client = new SSEClient("/chat", { topics: ["rooms/42"], token: %q, shared: %t });
			client.onPresence("rooms/42", (p) => lists.push(p.members.join(",") + "/" + p.count));
		})()`, token, shared))
		return ctx
	}
	last := func(ctx context.Context, who, want string) {
		t.Helper()
		waitFor(t, ctx, fmt.Sprintf("%s to see %s", who, want), fmt.Sprintf(`lists.at(-1) === %q`, want))
	}
	alice1 := open("alice", true)
	last(alice1, "alice's first tab", "alice/1")
	alice2 := open("alice", true)
	last(alice2, "alice's second tab", "alice/1")
	waitSubscribers(t, "room", 1) // alice's tabs share one stream
	bob := open("bob", false)
	last(bob, "bob", "alice,bob/2")
	last(alice1, "alice's first tab", "alice,bob/2")
	last(alice2, "alice's second tab", "alice,bob/2")
	waitSubscribers(t, "room", 2)

	if err := chromedp.Cancel(bob); err != nil {
		t.Fatalf("closing bob's tab: %v", err)
	}
	last(alice1, "alice's first tab", "alice/1")
	last(alice2, "alice's second tab", "alice/1")
	// Each list went alice, alice+bob, alice: one join and one leave of bob,
	// and never a second alice.
	for i, tab := range []context.Context{alice1, alice2} {
		if lists := eval[[]string](t, tab, `lists`); fmt.Sprint(lists) != "[alice/1 alice,bob/2 alice/1]" {
			t.Errorf("alice's tab %d saw %v", i+1, lists)
		}
	}
}
