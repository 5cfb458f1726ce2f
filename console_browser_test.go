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
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// rect is an element's bounding box in CSS pixels of the viewport.
type rect struct {
	Top, Bottom, Left, Right, Height float64
}

// boxOf returns the bounding box of the element a selector finds.
func boxOf(t *testing.T, ctx context.Context, selector string) rect {
	t.Helper()
	return eval[rect](t, ctx, `(() => { const r = document.querySelector(`+jsString(selector)+`).getBoundingClientRect();
		return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height}; })()`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// visibleRows counts the event rows wholly on screen: inside the list's
// visible area and inside the viewport, with the page itself not scrolled.
const visibleRows = `(() => {
	if (window.scrollY !== 0) return -1;
	const list = document.getElementById("events").getBoundingClientRect();
	return [...document.querySelectorAll("#events li")].filter((li) => {
		const r = li.getBoundingClientRect();
		return r.height > 0 && r.top >= Math.max(0, list.top) - 1 && r.bottom <= Math.min(innerHeight, list.bottom) + 1;
	}).length;
})()`

// The console at a desktop size (1280×800): the events come first, beside
// compact forms, with at least five in view; an empty state says how to
// publish; every row shows its level as text and its receive time; the
// hub's counts are live; #topics= is followed on hashchange; the data is
// text, never markup; the publish form, toasts and the 1,000-event cap
// work. Then at a phone size (390×844) the list comes before the forms
// and nothing overflows sideways.
func TestBrowserConsole(t *testing.T) {
	tc := startCaddy(t, `
http://127.0.0.1:{PORT} {
	sse /events {
		subscribe_allow **
		publish_allow **
		ui
	}
}`)
	ctx := newBrowser(t)
	browserRun(t, ctx, "open the console",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(tc.URL+"/events"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
	)
	if text := eval[string](t, ctx, `document.getElementById("empty").textContent`); !strings.Contains(text, "#topics=") {
		t.Errorf("empty state before subscribing: %q, want it to say how to subscribe", text)
	}
	browserRun(t, ctx, "subscribe",
		chromedp.SetValue(chromedp.ID("topics"), "logs/** alerts"),
		chromedp.Click(chromedp.ID("connect")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="open"]`)),
	)
	if text := eval[string](t, ctx, `document.getElementById("status-text").textContent`); text != "connected" {
		t.Fatalf("status %q, want connected", text)
	}
	// The empty state now gives a curl command that reaches this page.
	curl := eval[string](t, ctx, `document.getElementById("empty-curl").textContent`)
	wantCurl := "curl -d topic=logs/test -d event=log.info -d data=hello " + tc.URL + "/events"
	if curl != wantCurl {
		t.Errorf("empty state command %q, want %q", curl, wantCurl)
	}
	// The events come first: the list is left of the forms and starts
	// near the top of the page.
	events, forms := boxOf(t, ctx, "#events-panel"), boxOf(t, ctx, ".forms")
	if events.Right > forms.Left || events.Top > 80 {
		t.Errorf("desktop layout: events %+v, forms %+v; want the events at the top, left of the forms", events, forms)
	}
	if h := eval[string](t, ctx, `document.querySelector(".cols").textContent`); !strings.HasPrefix(h, "Received") {
		t.Errorf("column headings %q, want the time labelled as receive time", h)
	}
	// The hub's counts: this page's stream on two selectors.
	waitFor(t, ctx, "the hub counts", `document.getElementById("hub-counts").textContent === "hub: 1 subscriber · 2 topics"`)
	s := tc.SubscribeLines("/events?topic=news")
	if line := s.Line(5 * time.Second); line != ":ok" {
		t.Fatalf("second subscriber: first line %q", line)
	}
	waitFor(t, ctx, "the counts to follow a new subscriber", `document.getElementById("hub-counts").textContent === "hub: 2 subscribers · 3 topics"`)

	id := tc.PublishForm("/events", "topic", "logs/app", "event", "log.info", "data", `{"message":"started","port":8080}`)
	tc.PublishForm("/events", "topic", "logs/app", "event", "warn", "data", "disk 91% full")
	tc.PublishForm("/events", "topic", "logs/db", "data", `{"level":"error","message":"connection refused"}`)
	tc.PublishForm("/events", "topic", "logs/db", "event", "log.error", "data", "replica down")
	hostile := `<img src=x onerror="document.title='pwned'">`
	tc.PublishForm("/events", "topic", "alerts", "data", hostile)
	for i := range 3 {
		tc.PublishForm("/events", "topic", "logs/app", "event", "log.debug", "data", fmt.Sprintf("tick %d", i))
	}
	waitFor(t, ctx, "eight events", `document.querySelectorAll("#events li").length === 8`)
	if !eval[bool](t, ctx, `document.getElementById("empty").hidden`) {
		t.Error("the empty state is still shown beside events")
	}
	rows := eval[[]map[string]string](t, ctx, `[...document.querySelectorAll("#events li")].map((li) => ({
		class: li.className, level: li.querySelector(".level").textContent, type: li.querySelector(".type").textContent,
		topic: li.querySelector(".topic").textContent, id: li.querySelector(".id").textContent,
		data: li.querySelector(".data").textContent, time: li.querySelector("time").textContent}))`)
	for i, want := range []struct{ class, level, typ, topic, data string }{
		{"event level-info", "info", "log.info", "logs/app", "{\n  \"message\": \"started\",\n  \"port\": 8080\n}"},
		{"event level-warn", "warn", "warn", "logs/app", "disk 91% full"},
		{"event level-error", "error", "message", "logs/db", "{\n  \"level\": \"error\",\n  \"message\": \"connection refused\"\n}"},
		{"event level-error", "error", "log.error", "logs/db", "replica down"},
		{"event", "", "message", "alerts", hostile},
		{"event level-debug", "debug", "log.debug", "logs/app", "tick 0"},
	} {
		r := rows[i]
		if r["class"] != want.class || r["level"] != want.level || r["type"] != want.typ || r["topic"] != want.topic ||
			r["data"] != want.data || !strings.HasPrefix(r["id"], "id ") || len(r["time"]) != len("15:04:05.000") {
			t.Errorf("row %d: %v, want %+v", i, r, want)
		}
	}
	if rows[0]["id"] != "id "+id {
		t.Errorf("first row id %q, want %q", rows[0]["id"], id)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#events img").length`); n != 0 || eval[string](t, ctx, `document.title`) == "pwned" {
		t.Fatal("event data was rendered as HTML")
	}
	if n := eval[int](t, ctx, visibleRows); n < 5 {
		t.Errorf("%d events visible without scrolling at 1280×800, want at least 5", n)
	}
	if eval[bool](t, ctx, `document.scrollingElement.scrollHeight > innerHeight`) {
		t.Error("the desktop page scrolls; the event list should scroll inside it")
	}
	checkNotBlank(t, screenshot(t, ctx, "console-desktop.png"))

	// #topics= is followed when it changes: the console resubscribes.
	eval[chromedp.Void](t, ctx, `location.hash = "#topics=deploys"; undefined`)
	waitFor(t, ctx, "the resubscription", `document.getElementById("topics").value === "deploys" && document.getElementById("status").dataset.state === "open"`)
	waitFor(t, ctx, "the counts after resubscribing", `document.getElementById("hub-counts").textContent === "hub: 2 subscribers · 2 topics"`)
	tc.PublishForm("/events", "topic", "logs/app", "data", "not subscribed any more")
	tc.PublishForm("/events", "topic", "deploys", "data", "v2 live")
	waitFor(t, ctx, "the event of the new topic", `document.querySelector("#events li:last-child .data").textContent === "v2 live"`)
	if n := eval[int](t, ctx, `[...document.querySelectorAll("#events .data")].filter((d) => d.textContent === "not subscribed any more").length`); n != 0 {
		t.Error("an event of the old topics arrived after the hash changed")
	}

	// The publish form; its type field steers away from plain "error".
	if ph := eval[string](t, ctx, `document.getElementById("pub-event").placeholder`); !strings.Contains(ph, "log.error") {
		t.Errorf("event type placeholder %q, want it to suggest log.error", ph)
	}
	browserRun(t, ctx, "publish through the form",
		chromedp.SetValue(chromedp.ID("pub-topic"), "deploys"),
		chromedp.SetValue(chromedp.ID("pub-event"), "log.info"),
		chromedp.SetValue(chromedp.ID("pub-data"), `{"message":"from the form"}`),
		chromedp.Click(chromedp.ID("send")),
	)
	waitFor(t, ctx, "the form's event in the list", `[...document.querySelectorAll("#events li.level-info .data")].some((d) => d.textContent.includes("from the form"))`)
	waitFor(t, ctx, "the form's result", `document.getElementById("pub-result").textContent.startsWith("published, id ")`)

	// A toast that is clicked away, and one that goes by itself.
	tc.PublishForm("/events", "topic", "deploys", "event", "notification", "data", `{"title":"Build","message":"build 42 passed"}`)
	browserRun(t, ctx, "the first toast", chromedp.WaitVisible(chromedp.CSS(`#toasts .toast`)))
	if text := eval[string](t, ctx, `document.querySelector("#toasts .toast").textContent`); text != "Buildbuild 42 passed" {
		t.Errorf("toast text %q", text)
	}
	browserRun(t, ctx, "dismiss the toast by click",
		chromedp.Click(chromedp.CSS(`#toasts .toast`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#toasts .toast`)),
	)
	tc.PublishForm("/events", "topic", "deploys", "event", "notification", "data", "deploy finished")
	browserRun(t, ctx, "the second toast", chromedp.WaitVisible(chromedp.CSS(`#toasts .toast`)))
	shown := time.Now()
	browserRun(t, ctx, "the toast to dismiss itself", chromedp.WaitNotPresent(chromedp.CSS(`#toasts .toast`)))
	if d := time.Since(shown); d < 4*time.Second {
		t.Errorf("the toast went after %v, want about 5s", d)
	}

	// At most 1,000 events are kept: the oldest go first.
	var batch []map[string]string
	for i := range 1005 {
		batch = append(batch, map[string]string{"topic": "deploys", "data": fmt.Sprintf("bulk %d", i)})
	}
	body, _ := json.Marshal(batch)
	if status, resp := tc.Post("/events", "application/json", string(body)); status != 200 {
		t.Fatalf("batch publish: %d %s", status, resp)
	}
	waitFor(t, ctx, "the last bulk event", `document.querySelector("#events li:last-child .data").textContent === "bulk 1004"`)
	if n := eval[int](t, ctx, `document.querySelectorAll("#events li").length`); n != 1000 {
		t.Fatalf("the list holds %d events, want 1000", n)
	}
	if first := eval[string](t, ctx, `document.querySelector("#events li .data").textContent`); first != "bulk 5" {
		t.Errorf("oldest kept event %q, want bulk 5", first)
	}
	if count := eval[string](t, ctx, `document.getElementById("count").textContent`); count != "1000" {
		t.Errorf("count shows %q", count)
	}
	// Auto-scroll keeps the newest event in view.
	if !eval[bool](t, ctx, `(() => { const l = document.getElementById("events"); return l.scrollHeight - l.scrollTop - l.clientHeight < 2; })()`) {
		t.Error("auto-scroll did not follow the newest event")
	}

	// A phone: the list comes before the forms, on the first screen, and
	// nothing overflows sideways.
	browserRun(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844))
	events, forms = boxOf(t, ctx, "#events-panel"), boxOf(t, ctx, ".forms")
	if events.Bottom > forms.Top || events.Top > 120 {
		t.Errorf("phone layout: events %+v, forms %+v; want the events first, above the forms", events, forms)
	}
	if n := eval[int](t, ctx, visibleRows); n < 3 {
		t.Errorf("%d events visible on the phone's first screen, want at least 3", n)
	}
	if !eval[bool](t, ctx, `document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Error("the console overflows a 390px wide screen")
	}
	checkNotBlank(t, screenshot(t, ctx, "console-phone.png"))
	browserRun(t, ctx, "clear", chromedp.Click(chromedp.ID("clear")))
	waitFor(t, ctx, "an empty list with its empty state", `document.querySelectorAll("#events li").length === 0 && !document.getElementById("empty").hidden`)
	browserRun(t, ctx, "disconnect",
		chromedp.Click(chromedp.ID("disconnect")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="closed"]`)),
	)
}

// The console's own trouble is an error, styled apart from app events: a
// refused subscription (401) shows in a red alert banner and in a dashed
// "console" row, while an app event of level error keeps its own look; a
// failed stream is reported while it is retried, until it is back; and
// without a grant of every topic the hub's counts stay hidden.
func TestBrowserConsoleErrors(t *testing.T) {
	live := `
http://127.0.0.1:{PORT} {
	sse /events {
		jwt {
			key ` + jwtTestSecret + `
		}
		subscribe_allow public/**
		publish_allow public/**
		ui
	}
}`
	tc := startCaddy(t, live)
	ctx := newBrowser(t)
	browserRun(t, ctx, "open the console",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(tc.URL+"/events#topics=public/news"),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="open"]`)),
	)
	tc.PublishForm("/events", "topic", "public/news", "event", "log.error", "data", "an app error")
	waitFor(t, ctx, "the app's error event", `document.querySelectorAll("#events li.level-error").length === 1`)
	if !eval[bool](t, ctx, `document.getElementById("hub-counts").hidden`) {
		t.Error("hub counts shown to a page without a grant of every topic")
	}

	eval[chromedp.Void](t, ctx, `location.hash = "#topics=private"; undefined`)
	waitFor(t, ctx, "the refusal", `document.getElementById("status").dataset.state === "refused"`)
	browserRun(t, ctx, "the error banner", chromedp.WaitVisible(chromedp.ID("conn-error")))
	banner := eval[string](t, ctx, `document.getElementById("conn-error").textContent`)
	if !strings.Contains(banner, "refused (401)") || !strings.Contains(banner, `"private"`) {
		t.Errorf("banner %q, want the status and the server's message", banner)
	}
	if role := eval[string](t, ctx, `document.getElementById("conn-error").getAttribute("role")`); role != "alert" {
		t.Errorf("banner role %q, want alert", role)
	}
	type look struct {
		Background, Color, BorderLeft, Level string
	}
	styleOf := func(selector string) look {
		return eval[look](t, ctx, `(() => { const e = document.querySelector(`+jsString(selector)+`); const s = getComputedStyle(e);
			const level = e.querySelector(".level");
			return {background: s.backgroundColor, color: s.color, borderLeft: s.borderLeftStyle, level: level ? level.textContent : ""}; })()`)
	}
	app, sys, bar := styleOf("#events li.level-error"), styleOf("#events li.sys-error"), styleOf("#conn-error")
	if sys.Level != "console" || sys.BorderLeft != "dashed" || app.BorderLeft != "solid" || app.Level != "error" {
		t.Errorf("the console's error row %+v is not told apart from the app's error event %+v", sys, app)
	}
	if bar.Background == app.Background || bar.Background == sys.Background || bar.Color == app.Color {
		t.Errorf("the error banner %+v looks like an event (app %+v, console %+v)", bar, app, sys)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#events li.sys-error").length`); n != 1 {
		t.Errorf("%d console error rows, want 1", n)
	}
	checkNotBlank(t, screenshot(t, ctx, "console-refused.png"))

	// Connecting again with topics it may have clears the banner.
	eval[chromedp.Void](t, ctx, `location.hash = "#topics=public/**"; undefined`)
	waitFor(t, ctx, "the stream to reopen", `document.getElementById("status").dataset.state === "open" && document.getElementById("conn-error").hidden`)

	// The server goes away: the stream failed and is being retried, which
	// the banner says until the stream is back.
	reload(tc, `
http://127.0.0.1:{PORT} {
	respond /events "down for maintenance" 503
}`)
	waitFor(t, ctx, "the failure in the banner", `(() => { const b = document.getElementById("conn-error");
		return !b.hidden && /reconnecting in|Stream failed \(503\)/.test(b.textContent); })()`)
	waitFor(t, ctx, "a console row for the failed stream", `[...document.querySelectorAll("#events li.sys-error .type")].some((e) => e.textContent === "stream failed")`)
	reload(tc, live)
	waitFor(t, ctx, "the stream back, the banner gone", `document.getElementById("status").dataset.state === "open" && document.getElementById("conn-error").hidden`)
}
