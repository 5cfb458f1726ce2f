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

// End-to-end tests: a real Caddy started from a Caddyfile, publishers and
// subscribers talking to it over loopback, each test asserting what a user
// of the stream sees. Tests synchronise on events (or on the hub's own
// subscriber count), never on sleeps.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"golang.org/x/crypto/bcrypt"
)

// itWait bounds every wait for something that should happen at once.
const itWait = 5 * time.Second

// itOpenSite is a site whose one route grants everything to everyone.
const itOpenSite = `http://127.0.0.1:{PORT} {
	sse {
		subscribe_allow **
		publish_allow **
	}
}`

const (
	ctForm = "application/x-www-form-urlencoded"
	ctJSON = "application/json"
)

// itRequest sends one request and returns the response (body closed) and
// its body. header holds name, value pairs.
func itRequest(t *testing.T, method, url, contentType string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

// itPublishJSON publishes a JSON body, fails the test unless it gets a
// JSON 200, and returns the ids it reports: one for an object, all of a batch.
func itPublishJSON(t *testing.T, tc *testCaddy, path, body string, header ...string) []string {
	t.Helper()
	resp, got := itRequest(t, http.MethodPost, tc.URL+path, ctJSON, strings.NewReader(body), header...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish %s: status %d: %s", body, resp.StatusCode, got)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, ctJSON) {
		t.Fatalf("publish %s: Content-Type %q, want %s", body, ct, ctJSON)
	}
	var out struct {
		ID  *string  `json:"id"`
		IDs []string `json:"ids"`
	}
	dec := json.NewDecoder(strings.NewReader(got))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("publish %s: response %q: %v", body, got, err)
	}
	if strings.HasPrefix(strings.TrimSpace(body), "[") {
		if out.ID != nil || out.IDs == nil {
			t.Fatalf("publish batch %s: response %q, want {\"ids\":[…]}", body, got)
		}
		return out.IDs
	}
	if out.ID == nil || out.IDs != nil {
		t.Fatalf("publish %s: response %q, want {\"id\":…}", body, got)
	}
	return []string{*out.ID}
}

// seqOf returns the number the hub gave the event of an id.
func seqOf(t *testing.T, id string) uint64 {
	t.Helper()
	_, n := eventPos(t, id)
	return n
}

// nextID is the id the hub assigns after id.
func nextID(t *testing.T, id string) string {
	t.Helper()
	h, n := eventPos(t, id)
	return h.Log().FormatID(hub.Position{Minor: n + 1})
}

// expectEvent reads the next event and checks its id, type and data.
func expectEvent(t *testing.T, s *sseStream, id, typ, data string) parsedEvent {
	t.Helper()
	ev := s.Next(itWait)
	if ev.ID != id || ev.Type != typ || ev.Data != data {
		t.Fatalf("got event id=%q type=%q data=%q, want id=%q type=%q data=%q", ev.ID, ev.Type, ev.Data, id, typ, data)
	}
	return ev
}

// eventsUntil reads events up to and including the one with the given id
// and returns their ids.
func eventsUntil(t *testing.T, s *sseStream, last string) []string {
	t.Helper()
	var ids []string
	for {
		ev := s.Next(itWait)
		ids = append(ids, ev.ID)
		if ev.ID == last {
			return ids
		}
		if len(ids) > 10000 {
			t.Fatalf("event %s never came", last)
		}
	}
}

// expectOpening reads the lines every stream starts with, the ":ok"
// comment and the opening block (retry: and, when the stream has a start
// position, id:), and returns the retry value.
func expectOpening(t *testing.T, s *lineStream) string {
	t.Helper()
	retry, _ := expectOpeningID(t, s)
	return retry
}

// expectOpeningID is expectOpening that also returns the opening id.
func expectOpeningID(t *testing.T, s *lineStream) (retry, id string) {
	t.Helper()
	var got []string
	for range 4 {
		got = append(got, s.Line(itWait))
	}
	retry, ok := strings.CutPrefix(got[2], "retry: ")
	if rest, isID := strings.CutPrefix(got[3], "id: "); isID && rest != "" {
		id = rest
		got = append(got, s.Line(itWait))
		got = slices.Delete(got, 3, 4)
	}
	if got[0] != ":ok" || got[1] != "" || !ok || got[3] != "" {
		t.Fatalf("stream opening %q, want [\":ok\" \"\" \"retry: <ms>\" (\"id: <id>\") \"\"]", got)
	}
	return retry, id
}

// eventLines reads the lines of one event, up to its blank line, and
// fails on a comment line: comments belong between events.
func eventLines(t *testing.T, s *lineStream) []string {
	t.Helper()
	var lines []string
	for {
		line := s.Line(itWait)
		if line == "" {
			return lines
		}
		if strings.HasPrefix(line, ":") {
			t.Fatalf("comment %q inside an event after %q", line, lines)
		}
		lines = append(lines, line)
	}
}

// itHubStats returns the stats of the pooled hub with the given name.
func itHubStats(name string) (hub.Stats, bool) {
	var st hub.Stats
	found := false
	hubs.Range(func(key, val any) bool {
		if key == name {
			st, found = val.(*pooledHub).Stats(), true
			return false
		}
		return true
	})
	return st, found
}

// waitSubscribers waits until the hub has n subscribers: a client that
// closed its stream is removed when the server notices, not at once.
func waitSubscribers(t *testing.T, hubName string, n int) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(itWait)
	for {
		if st, _ := itHubStats(hubName); st.Subscribers == n {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			st, _ := itHubStats(hubName)
			t.Fatalf("hub %q has %d subscribers, want %d", hubName, st.Subscribers, n)
		}
	}
}

// expectControl checks that ev is a server control event (sse.reset or
// sse.close) with JSON data carrying the given reason.
func expectControl(t *testing.T, ev parsedEvent, typ string, reason hub.Reason) {
	t.Helper()
	var data map[string]any
	if ev.Type != typ {
		t.Fatalf("got event type %q (data %q), want %s", ev.Type, ev.Data, typ)
	}
	if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
		t.Fatalf("%s data %q is not JSON: %v", typ, ev.Data, err)
	}
	if data["reason"] != string(reason) {
		t.Fatalf("%s data %q: want reason %q", typ, ev.Data, reason)
	}
}

func basicAuthHeader(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestIntegrationPublishFormRoundTrip(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	s := tc.Subscribe("/?topic=news")

	resp, body := itRequest(t, http.MethodPost, tc.URL+"/", ctForm,
		strings.NewReader("topic=news&data=hello+world&event=greet&retry=1500"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want text/plain", ct)
	}
	id, ok := strings.CutSuffix(body, "\n")
	if !ok || id == "" || strings.ContainsAny(id, " \r\n") {
		t.Fatalf("response body %q, want the id and a newline", body)
	}
	seqOf(t, id)
	ev := expectEvent(t, s, id, "greet", "hello world")
	if !slices.Equal(ev.Topics, []string{"news"}) || ev.Retry != 1500 {
		t.Fatalf("topics %q retry %d, want [news] 1500", ev.Topics, ev.Retry)
	}

	// "type" is an alias of "event"; without either the type is "message".
	id2 := tc.PublishForm("/", "topic", "news", "data", "x", "type", "alert")
	expectEvent(t, s, id2, "alert", "x")
	id3 := tc.PublishForm("/", "topic", "news", "data", "line one\nline two\r\nline three\rline four")
	expectEvent(t, s, id3, "message", "line one\nline two\nline three\nline four")
	if seqOf(t, id2) != seqOf(t, id)+1 || seqOf(t, id3) != seqOf(t, id2)+1 {
		t.Fatalf("ids %s %s %s are not consecutive", id, id2, id3)
	}
}

func TestIntegrationPublishJSONRoundTrip(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	s := tc.Subscribe("/?topic=news")

	for _, c := range []struct{ name, body, typ, data string }{
		{"string", `{"topic":"news","data":"hello"}`, "message", "hello"},
		{"object sent compact", `{"topic": "news", "event": "obj", "data": {"b": [1, 2], "a": "x y"}}`, "obj", `{"b":[1,2],"a":"x y"}`},
		{"number", `{"topic":"news","type":"n","data":42}`, "n", "42"},
		{"multi-line", `{"topic":"news","data":"l1\nl2\r\nl3\rl4"}`, "message", "l1\nl2\nl3\nl4"},
		{"escaped string", `{"topics":["news"],"data":"caf\u00e9 \"q\""}`, "message", `café "q"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ids := itPublishJSON(t, tc, "/", c.body)
			expectEvent(t, s, ids[0], c.typ, c.data)
		})
	}

	ids := itPublishJSON(t, tc, "/", `{"topic":"news","data":"r","retry":3000}`)
	if ev := expectEvent(t, s, ids[0], "message", "r"); ev.Retry != 3000 {
		t.Fatalf("retry %d, want 3000", ev.Retry)
	}
}

func TestIntegrationPublishMultiLineWire(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	s := tc.SubscribeLines("/?topic=a")
	expectOpening(t, s)
	id := tc.PublishForm("/", "topic", "a", "data", "l1\nl2\n\nl4", "event", "multi")
	lines := eventLines(t, s)
	var data []string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "data:"); ok {
			data = append(data, strings.TrimPrefix(v, " "))
		}
	}
	if !slices.Contains(lines, "id: "+id) || !slices.Contains(lines, "event: multi") || !slices.Contains(lines, "topic: a") {
		t.Fatalf("event lines %q lack id, event or topic", lines)
	}
	if !slices.Equal(data, []string{"l1", "l2", "", "l4"}) {
		t.Fatalf("data lines %q, want four: l1, l2, empty, l4", data)
	}
}

func TestIntegrationPublishJSONBatch(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	s := tc.Subscribe("/?topic=a&topic=b")
	ids := itPublishJSON(t, tc, "/", `[
		{"topic":"a","data":"first"},
		{"topic":"b","event":"second","data":{"n":2}},
		{"topics":["a","b"],"data":"third"}
	]`)
	if len(ids) != 3 || seqOf(t, ids[1]) != seqOf(t, ids[0])+1 || seqOf(t, ids[2]) != seqOf(t, ids[1])+1 {
		t.Fatalf("batch ids %q, want three consecutive ids", ids)
	}
	expectEvent(t, s, ids[0], "message", "first")
	expectEvent(t, s, ids[1], "second", `{"n":2}`)
	if ev := expectEvent(t, s, ids[2], "message", "third"); !slices.Equal(ev.Topics, []string{"a", "b"}) {
		t.Fatalf("topics %q, want [a b]", ev.Topics)
	}
	// A batch of one is still a batch.
	one := itPublishJSON(t, tc, "/", `[{"topic":"a","data":"solo"}]`)
	expectEvent(t, s, one[0], "message", "solo")
}

func TestIntegrationPublishMultiTopic(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	both := tc.Subscribe("/?topic=a&topic=b")
	onlyB := tc.Subscribe("/?topic=b")

	formID := tc.PublishForm("/", "topic", "a", "topic", "b", "data", "by form")
	jsonID := itPublishJSON(t, tc, "/", `{"topics":["a","b"],"data":"by json"}`)[0]
	sentinel := tc.PublishForm("/", "topic", "a", "topic", "b", "data", "sentinel")

	for _, s := range []*sseStream{both, onlyB} {
		for _, want := range []struct{ id, data string }{{formID, "by form"}, {jsonID, "by json"}, {sentinel, "sentinel"}} {
			ev := expectEvent(t, s, want.id, "message", want.data)
			if !slices.Equal(ev.Topics, []string{"a", "b"}) {
				t.Fatalf("topic: lines %q, want [a b]", ev.Topics)
			}
		}
	}
}

func TestIntegrationSubscribeResponse(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		retry 2500ms
		heartbeat off
		subscribe_allow **
		publish_allow **
	}
}`)
	// Nothing is published: the headers and the opening must come on their own.
	s := tc.SubscribeLines("/?topic=a")
	for name, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if got := s.Resp.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if s.Resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", s.Resp.StatusCode)
	}
	if retry := expectOpening(t, s); retry != "2500" {
		t.Fatalf("retry: %s, want 2500", retry)
	}
	id := tc.PublishForm("/", "topic", "a", "data", "x")
	if lines := eventLines(t, s); !slices.Equal(lines, []string{"id: " + id, "topic: a", "data: x"}) {
		t.Fatalf("event lines %q", lines)
	}
}

func TestIntegrationSubscribeWildcards(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	orders := tc.Subscribe("/?topic=orders/*")
	logs := tc.Subscribe("/?topic=logs/**")
	all := tc.Subscribe("/?topic=**")
	overlapping := tc.Subscribe("/?topic=orders/*&topic=orders/**&topic=orders/1&topic=orders/1")

	o1 := tc.PublishForm("/", "topic", "orders/1", "data", "o1")
	o1Items := tc.PublishForm("/", "topic", "orders/1/items", "data", "o1 items")
	ordersBare := tc.PublishForm("/", "topic", "orders", "data", "orders")
	logsBare := tc.PublishForm("/", "topic", "logs", "data", "logs")
	logsApp := tc.PublishForm("/", "topic", "logs/app", "data", "app")
	logsDeep := tc.PublishForm("/", "topic", "logs/app/web", "data", "web")
	other := tc.PublishForm("/", "topic", "other", "data", "other")
	end := tc.PublishForm("/", "topic", "orders/9", "topic", "logs/end", "data", "end")

	for _, c := range []struct {
		name string
		s    *sseStream
		want []string
	}{
		{"orders/*", orders, []string{o1, end}},
		{"logs/**", logs, []string{logsApp, logsDeep, end}},
		{"**", all, []string{o1, o1Items, ordersBare, logsBare, logsApp, logsDeep, other, end}},
		{"overlapping selectors", overlapping, []string{o1, o1Items, end}},
	} {
		if got := eventsUntil(t, c.s, end); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestIntegrationReplayLastEventID(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	a1 := tc.PublishForm("/", "topic", "a", "data", "a1")
	b1 := tc.PublishForm("/", "topic", "b", "data", "b1")
	a2 := tc.PublishForm("/", "topic", "a", "data", "a2")
	a3 := tc.PublishForm("/", "topic", "a", "data", "a3")
	b2 := tc.PublishForm("/", "topic", "b", "data", "b2")
	a4 := tc.PublishForm("/", "topic", "a", "data", "a4")

	for i, c := range []struct {
		name   string
		query  string
		header []string
		want   []string
	}{
		{"header", "topic=a", []string{"Last-Event-ID", a2}, []string{a3, a4}},
		{"query", "topic=a&last_event_id=" + url.QueryEscape(a1), nil, []string{a2, a3, a4}},
		{"header wins over query", "topic=a&last_event_id=" + url.QueryEscape(a1), []string{"Last-Event-ID", a3}, []string{a4}},
		{"several topics", "topic=a&topic=b", []string{"Last-Event-ID", a1}, []string{b1, a2, a3, b2, a4}},
		{"pattern", "topic=*", []string{"Last-Event-ID", b1}, []string{a2, a3, b2, a4}},
		{"newest id replays nothing", "topic=a&topic=b", []string{"Last-Event-ID", a4}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The live event goes to a topic of this case alone, which no
			// other case's selectors match.
			liveTopic := "live/" + strconv.Itoa(i)
			s := tc.Subscribe("/?"+c.query+"&topic="+liveTopic, c.header...)
			live := tc.PublishForm("/", "topic", liveTopic, "data", "live")
			want := append(slices.Clone(c.want), live)
			if got := eventsUntil(t, s, live); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			s.Close()
		})
	}
}

func TestIntegrationReplayN(t *testing.T) {
	for _, c := range []struct {
		query string
		want  []int // indexes into the published events a1 a2 b1 a3 a4
	}{
		{"topic=a&replay=0", nil},
		{"topic=a&replay=1", []int{4}},
		{"topic=a&replay=2", []int{3, 4}},
		{"topic=a&replay=3", []int{1, 3, 4}},
		{"topic=a&replay=4", []int{1, 3, 4}},
		{"topic=a&replay=1000", []int{1, 3, 4}},
		{"topic=a&topic=b&replay=4", []int{1, 2, 3, 4}},
		{"topic=a&topic=b&replay=5", []int{1, 2, 3, 4}},
		{"topic=*&replay=3", []int{2, 3, 4}},
	} {
		t.Run(c.query, func(t *testing.T) {
			// A fresh hub for each case: history holds four events, so
			// a1 is trimmed by the fifth publish.
			tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		history 4
		subscribe_allow **
		publish_allow **
	}
}`)
			var ids []string
			for i, topic := range []string{"a", "a", "b", "a", "a"} {
				ids = append(ids, tc.PublishForm("/", "topic", topic, "data", strconv.Itoa(i)))
			}
			s := tc.Subscribe("/?" + c.query + "&topic=live")
			live := tc.PublishForm("/", "topic", "live", "data", "live")
			var want []string
			for _, i := range c.want {
				want = append(want, ids[i])
			}
			want = append(want, live)
			if got := eventsUntil(t, s, live); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

// TestIntegrationReplayJoinsLive resumes while a publisher is busy: the
// replayed events and the live ones must join with no gap and no duplicate.
func TestIntegrationReplayJoinsLive(t *testing.T) {
	tc := startCaddy(t, itOpenSite)
	first := tc.PublishForm("/", "topic", "a", "data", "0")
	for i := 1; i < 20; i++ {
		tc.PublishForm("/", "topic", "a", "data", strconv.Itoa(i))
	}

	const more = 200
	lastID := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		var last string
		for i := range more {
			resp, err := http.PostForm(tc.URL+"/", url.Values{"topic": {"a"}, "data": {fmt.Sprint("live ", i)}})
			if err != nil {
				errc <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errc <- fmt.Errorf("publish: status %d: %s", resp.StatusCode, b)
				return
			}
			last = strings.TrimSpace(string(b))
		}
		lastID <- last
	}()

	s := tc.Subscribe("/?topic=a", "Last-Event-ID", first)
	var last string
	select {
	case last = <-lastID:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(4 * itWait):
		t.Fatal("publisher did not finish")
	}
	got := eventsUntil(t, s, last)
	if len(got) != 19+more {
		t.Fatalf("got %d events, want %d", len(got), 19+more)
	}
	for i, id := range got {
		if seqOf(t, id) != seqOf(t, first)+uint64(i)+1 {
			t.Fatalf("event %d has id %s after %s: a gap or a duplicate", i, id, got[max(i-1, 0)])
		}
	}
}

func TestIntegrationResetUnknownID(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		history 2
		subscribe_allow **
		publish_allow **
	}
}`)
	var newest string
	for i := range 5 {
		newest = tc.PublishForm("/", "topic", "a", "data", strconv.Itoa(i))
	}
	h, n := eventPos(t, newest)
	other, err := hub.NewIDCipher(hub.NewIDKey())
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name   string
		query  string
		header string
	}{
		{name: "dollar", header: "$"},
		{name: "plus", header: "+"},
		{name: "zero", header: "0"},
		{name: "8 KB", header: strings.Repeat("x", 8<<10)},
		{name: "earlier hub", header: other.ID(hub.Position{Minor: 3})},
		{name: "future", header: h.Log().FormatID(hub.Position{Minor: n + 999})},
		{name: "a byte short", header: newest[:len(newest)-1]},
		{name: "a byte long", header: newest + "A"},
		{name: "not base64url", header: strings.Repeat("+", hub.IDLen)},
		{name: "query", query: "&last_event_id=%24"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var header []string
			if c.header != "" {
				header = []string{"Last-Event-ID", c.header}
			}
			s := tc.Subscribe("/?topic=a"+c.query, header...)
			ev := s.Next(itWait)
			expectControl(t, ev, "sse.reset", hub.ReasonUnknownID)
			if ev.ID != newest {
				t.Fatalf("sse.reset id %q, want the newest id %q", ev.ID, newest)
			}
			newest = tc.PublishForm("/", "topic", "a", "data", "live")
			expectEvent(t, s, newest, "message", "live")
			s.Close()
		})
	}
}

func TestIntegrationResetExpiredID(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		history 2
		subscribe_allow **
		publish_allow **
	}
}`)
	var all []string
	for i := range 5 {
		all = append(all, tc.PublishForm("/", "topic", "a", "data", strconv.Itoa(i)))
	}
	expectReset := func(lastID string) {
		t.Helper()
		s := tc.Subscribe("/?topic=a", "Last-Event-ID", lastID)
		ev := s.Next(itWait)
		expectControl(t, ev, "sse.reset", hub.ReasonExpiredID)
		if newest := all[len(all)-1]; ev.ID != newest {
			t.Fatalf("sse.reset id %q, want the newest id %q", ev.ID, newest)
		}
		live := tc.PublishForm("/", "topic", "a", "data", "live")
		expectEvent(t, s, live, "message", "live")
		all = append(all, live)
		s.Close()
	}
	// History keeps the last two ids. Resuming after the third newest loses
	// nothing; resuming after the fourth newest would miss the third.
	expectReset(all[0])
	expectReset(all[len(all)-4])

	s := tc.Subscribe("/?topic=a", "Last-Event-ID", all[len(all)-3])
	live := tc.PublishForm("/", "topic", "a", "data", "live")
	want := append(slices.Clone(all[len(all)-2:]), live)
	if got := eventsUntil(t, s, live); !slices.Equal(got, want) {
		t.Fatalf("resume at the edge of history: got %q, want %q", got, want)
	}
}

func TestIntegrationIdempotencyKey(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		history 3
		subscribe_allow **
		publish_allow **
	}
}`)
	s := tc.Subscribe("/?topic=a")
	postForm := func(key, body string) string {
		t.Helper()
		resp, got := itRequest(t, http.MethodPost, tc.URL+"/", ctForm, strings.NewReader(body), "Idempotency-Key", key)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("publish with key %s: status %d: %s", key, resp.StatusCode, got)
		}
		return strings.TrimSpace(got)
	}

	id := postForm("order-42", "topic=a&data=once")
	if again := postForm("order-42", "topic=a&data=once"); again != id {
		t.Fatalf("retried publish got id %s, want the original %s", again, id)
	}
	p2 := tc.PublishForm("/", "topic", "a", "data", "p2")
	p3 := tc.PublishForm("/", "topic", "a", "data", "p3")
	// The original event is the oldest in history: still within the window.
	if again := postForm("order-42", "topic=a&data=once"); again != id {
		t.Fatalf("retry while the event is in history got id %s, want %s", again, id)
	}
	if got := eventsUntil(t, s, p3); !slices.Equal(got, []string{id, p2, p3}) {
		t.Fatalf("subscriber got %q, want %q: the retries must store nothing", got, []string{id, p2, p3})
	}
	// One more publish trims the original out of history, and its key with it.
	p4 := tc.PublishForm("/", "topic", "a", "data", "p4")
	fresh := postForm("order-42", "topic=a&data=once")
	if fresh == id || seqOf(t, fresh) != seqOf(t, p4)+1 {
		t.Fatalf("retry past the history window got id %s, want a new id after %s", fresh, p4)
	}
	if got := eventsUntil(t, s, fresh); !slices.Equal(got, []string{p4, fresh}) {
		t.Fatalf("subscriber got %q, want %q", got, []string{p4, fresh})
	}

	batch := `[{"topic":"a","data":"b1"},{"topic":"a","data":"b2"}]`
	ids := itPublishJSON(t, tc, "/", batch, "Idempotency-Key", "batch-1")
	if again := itPublishJSON(t, tc, "/", batch, "Idempotency-Key", "batch-1"); !slices.Equal(again, ids) {
		t.Fatalf("retried batch got ids %q, want %q", again, ids)
	}
	one := itPublishJSON(t, tc, "/", `{"topic":"a","data":"j"}`, "Idempotency-Key", "json-1")
	if again := itPublishJSON(t, tc, "/", `{"topic":"a","data":"j"}`, "Idempotency-Key", "json-1"); !slices.Equal(again, one) {
		t.Fatalf("retried JSON publish got id %q, want %q", again, one)
	}
	sentinel := tc.PublishForm("/", "topic", "a", "data", "sentinel")
	want := []string{ids[0], ids[1], one[0], sentinel}
	if got := eventsUntil(t, s, sentinel); !slices.Equal(got, want) {
		t.Fatalf("subscriber got %q, want %q", got, want)
	}
	if seqOf(t, sentinel) != seqOf(t, one[0])+1 {
		t.Fatalf("sentinel id %s does not follow %s: a retry stored an event", sentinel, one[0])
	}
}

// itHeartbeatSite serves one hub on two routes that differ only in heartbeat.
const itHeartbeatSite = `http://127.0.0.1:{PORT} {
	sse /beat* {
		heartbeat 50ms
		subscribe_allow **
		publish_allow **
	}
	sse /quiet* {
		heartbeat off
		subscribe_allow **
		publish_allow **
	}
}`

// expectHeartbeats reads n heartbeat comments, failing on anything else.
func expectHeartbeats(t *testing.T, s *lineStream, n int) {
	t.Helper()
	for range n {
		if c, blank := s.Line(itWait), s.Line(itWait); !strings.HasPrefix(c, ":") || blank != "" {
			t.Fatalf("got lines %q %q, want a heartbeat comment", c, blank)
		}
	}
}

func TestIntegrationHeartbeat(t *testing.T) {
	tc := startCaddy(t, itHeartbeatSite)
	s := tc.SubscribeLines("/beat?topic=a")
	expectOpening(t, s)
	expectHeartbeats(t, s, 3)

	id := tc.PublishForm("/beat", "topic", "a", "data", "x")
	// A heartbeat may have been on its way when the event was published.
	line := s.Line(itWait)
	for strings.HasPrefix(line, ":") {
		if blank := s.Line(itWait); blank != "" {
			t.Fatalf("comment %q not followed by a blank line", line)
		}
		line = s.Line(itWait)
	}
	if line != "id: "+id {
		t.Fatalf("got line %q, want the event's id: line", line)
	}
	eventLines(t, s)
	expectHeartbeats(t, s, 2) // heartbeats resume once the stream is idle again
}

// TestIntegrationHeartbeatOff checks that a stream with heartbeats off
// sends no comment while idle. The clock is a stream with heartbeats on, on
// the same hub: once it has seen several heartbeats, the quiet stream,
// opened earlier, has been idle for as long, and the next thing it sends
// must be the next event.
func TestIntegrationHeartbeatOff(t *testing.T) {
	tc := startCaddy(t, itHeartbeatSite)
	quiet := tc.SubscribeLines("/quiet?topic=a")
	expectOpening(t, quiet)
	beat := tc.SubscribeLines("/beat?topic=a")
	expectOpening(t, beat)

	for round := range 2 {
		expectHeartbeats(t, beat, 3)
		id := tc.PublishForm("/quiet", "topic", "a", "data", strconv.Itoa(round))
		if lines := eventLines(t, quiet); len(lines) == 0 || lines[0] != "id: "+id {
			t.Fatalf("round %d: quiet stream sent %q, want the event %s and nothing before it", round, lines, id)
		}
		for beat.Line(itWait) != "id: "+id { // the same event, among heartbeats
		}
		eventLines(t, beat)
	}
}

// itGet opens a GET and returns its status, and its body unless the
// response is a 200 (a stream, which it closes at once).
func itGet(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// expectShortMessage checks an error body: one short line of plain text,
// or {"error":"…"} when asJSON, containing want.
func expectShortMessage(t *testing.T, resp *http.Response, body string, asJSON bool, want string) {
	t.Helper()
	ct := resp.Header.Get("Content-Type")
	msg := body
	if asJSON {
		var e map[string]string
		if !strings.HasPrefix(ct, ctJSON) || json.Unmarshal([]byte(body), &e) != nil || len(e) != 1 {
			t.Fatalf("error body %q (Content-Type %q), want JSON {\"error\":…}", body, ct)
		}
		msg = e["error"]
	} else {
		if !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("error body %q has Content-Type %q, want text/plain", body, ct)
		}
		msg = strings.TrimSuffix(msg, "\n")
	}
	if msg == "" || len(msg) > 200 || strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error message %q is not one short line", msg)
	}
	if !strings.Contains(strings.ToLower(msg), strings.ToLower(want)) {
		t.Fatalf("error message %q does not mention %q", msg, want)
	}
}

func TestIntegrationAuthNoGrants(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse
}`)
	status, body := itGet(t, tc.URL+"/?topic=a")
	if status != http.StatusUnauthorized || !strings.Contains(body, "grant") || len(body) > 200 {
		t.Fatalf("subscribe: %d %q, want 401 and a short message", status, body)
	}
	resp, body := itRequest(t, http.MethodPost, tc.URL+"/", ctForm, strings.NewReader("topic=a&data=x"))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("form publish: %d %q, want 401", resp.StatusCode, body)
	}
	expectShortMessage(t, resp, body, false, "grant")
	resp, body = itRequest(t, http.MethodPost, tc.URL+"/", ctJSON, strings.NewReader(`{"topic":"a","data":"x"}`))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("JSON publish: %d %q, want 401", resp.StatusCode, body)
	}
	expectShortMessage(t, resp, body, true, "grant")
}

func TestIntegrationAuthGrants(t *testing.T) {
	// No request here presents credentials, so whatever the grants do not
	// cover is a 401 (SPEC §11), without a challenge: the routes take no
	// tokens.
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /narrow* {
		subscribe_allow orders/*
	}
	sse {
		subscribe_allow orders/** news
		publish_allow orders/*
	}
}`)
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/?topic=orders/7", http.StatusOK},
		{"/?topic=orders/*", http.StatusOK},
		{"/?topic=orders/**", http.StatusOK},
		{"/?topic=orders/7/items", http.StatusOK},
		{"/?topic=orders/*/items&topic=news", http.StatusOK},
		{"/?topic=news", http.StatusOK},
		{"/?topic=orders", http.StatusUnauthorized},
		{"/?topic=news/1", http.StatusUnauthorized},
		{"/?topic=users/1", http.StatusUnauthorized},
		{"/?topic=**", http.StatusUnauthorized},
		{"/?topic=*", http.StatusUnauthorized},
		{"/?topic=orders/7&topic=users/1", http.StatusUnauthorized},
		{"/narrow?topic=orders/*", http.StatusOK},
		{"/narrow?topic=orders/7", http.StatusOK},
		{"/narrow?topic=orders/**", http.StatusUnauthorized},
		{"/narrow?topic=orders/7/items", http.StatusUnauthorized},
	} {
		status, body := itGet(t, tc.URL+c.path)
		if status != c.status {
			t.Errorf("GET %s: %d %q, want %d", c.path, status, body, c.status)
		}
		if status == http.StatusUnauthorized && (!strings.Contains(body, "not allowed") || len(body) > 200) {
			t.Errorf("GET %s: message %q, want a short \"not allowed\"", c.path, body)
		}
	}

	s := tc.Subscribe("/?topic=orders/**")
	first := tc.PublishForm("/", "topic", "orders/1", "data", "granted")
	expectEvent(t, s, first, "message", "granted")
	for _, body := range []string{
		"topic=orders/7/items&data=x",
		"topic=users/1&data=x",
		"topic=orders/1&topic=users/1&data=x",
	} {
		resp, got := itRequest(t, http.MethodPost, tc.URL+"/", ctForm, strings.NewReader(body))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("publish %s: %d %q, want 401", body, resp.StatusCode, got)
		}
		expectShortMessage(t, resp, got, false, "not allowed to publish")
	}
	resp, got := itRequest(t, http.MethodPost, tc.URL+"/", ctJSON, strings.NewReader(`{"topic":"users/1","data":"x"}`))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("JSON publish: %d %q, want 401", resp.StatusCode, got)
	}
	expectShortMessage(t, resp, got, true, "not allowed to publish")
	id := tc.PublishForm("/", "topic", "orders/7", "data", "granted")
	expectEvent(t, s, id, "message", "granted")
	if seqOf(t, id) != seqOf(t, first)+1 {
		t.Fatalf("id %s does not follow %s: a refused publish stored an event", id, first)
	}
}

// itBasicAuthUsers returns basic_auth lines for alice and bob, whose
// password is "secret", hashed with the cheapest bcrypt cost.
func itBasicAuthUsers(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("alice %s\n\t\t\tbob %s", hash, hash)
}

func TestIntegrationAuthBasicAuthTemplate(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	handle /pub {
		sse {
			publish_allow **
		}
	}
	handle {
		basic_auth {
			`+itBasicAuthUsers(t)+`
		}
		sse {
			subscribe_allow users/{http.auth.user.id}
		}
	}
}`)
	alice := []string{"Authorization", basicAuthHeader("alice", "secret")}
	for _, c := range []struct {
		name   string
		path   string
		header []string
		status int
	}{
		{"own topic", "/?topic=users/alice", alice, http.StatusOK},
		{"other user", "/?topic=users/bob", alice, http.StatusForbidden},
		{"own and other", "/?topic=users/alice&topic=users/bob", alice, http.StatusForbidden},
		{"every user", "/?topic=users/*", alice, http.StatusForbidden},
		{"below own topic", "/?topic=users/alice/x", alice, http.StatusForbidden},
		{"no credentials", "/?topic=users/alice", nil, http.StatusUnauthorized},
		{"wrong password", "/?topic=users/alice", []string{"Authorization", basicAuthHeader("alice", "guess")}, http.StatusUnauthorized},
	} {
		if status, body := itGet(t, tc.URL+c.path, c.header...); status != c.status {
			t.Errorf("%s: %d %q, want %d", c.name, status, body, c.status)
		}
	}

	s := tc.Subscribe("/?topic=users/alice", alice...)
	tc.PublishForm("/pub", "topic", "users/bob", "data", "for bob")
	id := tc.PublishForm("/pub", "topic", "users/alice", "data", "for alice")
	expectEvent(t, s, id, "message", "for alice")
}

func TestIntegrationAuthEmptyPlaceholder(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		subscribe_allow users/{http.request.header.X-User}
		publish_allow users/{http.request.header.X-User}
	}
}`)
	for _, c := range []struct {
		name   string
		path   string
		header []string
		status int
	}{
		{"no header", "/?topic=users/carol", nil, http.StatusUnauthorized},
		{"empty header", "/?topic=users/carol", []string{"X-User", ""}, http.StatusUnauthorized},
		{"slash", "/?topic=users/a/b", []string{"X-User", "a/b"}, http.StatusUnauthorized},
		{"star", "/?topic=users/*", []string{"X-User", "*"}, http.StatusUnauthorized},
		{"double star", "/?topic=users/**", []string{"X-User", "**"}, http.StatusUnauthorized},
		{"space", "/?topic=users/c", []string{"X-User", "c d"}, http.StatusUnauthorized},
		{"granted", "/?topic=users/carol", []string{"X-User", "carol"}, http.StatusOK},
		{"other user", "/?topic=users/dave", []string{"X-User", "carol"}, http.StatusForbidden},
	} {
		if status, body := itGet(t, tc.URL+c.path, c.header...); status != c.status {
			t.Errorf("subscribe, %s: %d %q, want %d", c.name, status, body, c.status)
		}
	}
	for _, c := range []struct {
		name, user, topic string
		status            int
	}{
		{"slash", "a/b", "users/a/b", http.StatusUnauthorized},
		{"other user", "carol", "users/dave", http.StatusForbidden},
		{"granted", "carol", "users/carol", http.StatusOK},
	} {
		resp, body := itRequest(t, http.MethodPost, tc.URL+"/", ctForm,
			strings.NewReader("topic="+c.topic+"&data=x"), "X-User", c.user)
		if resp.StatusCode != c.status {
			t.Errorf("publish, %s: %d %q, want %d", c.name, resp.StatusCode, body, c.status)
		}
	}
}

// expectCapacityClose checks that a stream was turned away at capacity: a
// 200 stream holding only an sse.close with a long retry, then its end.
func expectCapacityClose(t *testing.T, s *sseStream) {
	t.Helper()
	if s.Resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200: a non-200 makes EventSource give up", s.Resp.StatusCode)
	}
	evs := s.End(itWait)
	if len(evs) != 1 {
		t.Fatalf("got %d events, want one sse.close: %+v", len(evs), evs)
	}
	expectControl(t, evs[0], "sse.close", "capacity")
	if evs[0].ID != "" || evs[0].Retry < 30000 {
		t.Fatalf("sse.close id %q retry %d, want no id and retry >= 30000", evs[0].ID, evs[0].Retry)
	}
}

// expectLive checks that every stream is live by publishing one event and
// reading it from each.
func expectLive(t *testing.T, tc *testCaddy, path string, streams ...*sseStream) {
	t.Helper()
	id := tc.PublishForm(path, "topic", "a", "data", "live")
	for _, s := range streams {
		expectEvent(t, s, id, "message", "live")
	}
}

func TestIntegrationCapacityMaxSubscribers(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		hub capacity
		max_subscribers 2
		subscribe_allow **
		publish_allow **
	}
}`)
	s1 := tc.Subscribe("/?topic=a")
	s2 := tc.Subscribe("/?topic=a")
	expectCapacityClose(t, tc.Subscribe("/?topic=a"))
	expectLive(t, tc, "/", s1, s2)

	s1.Close()
	waitSubscribers(t, "capacity", 1)
	s3 := tc.Subscribe("/?topic=a")
	expectLive(t, tc, "/", s2, s3)
	expectCapacityClose(t, tc.Subscribe("/?topic=b"))
}

func TestIntegrationCapacityPerClientIP(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		hub capacity
		max_per_client 1
		subscribe_allow **
		publish_allow **
	}
}`)
	s1 := tc.Subscribe("/?topic=a")
	expectCapacityClose(t, tc.Subscribe("/?topic=b"))
	expectLive(t, tc, "/", s1)

	s1.Close()
	waitSubscribers(t, "capacity", 0)
	s2 := tc.Subscribe("/?topic=a")
	expectLive(t, tc, "/", s2)
}

func TestIntegrationCapacityPerUser(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	handle /pub {
		sse {
			hub capacity
			publish_allow **
		}
	}
	handle {
		basic_auth {
			`+itBasicAuthUsers(t)+`
		}
		sse {
			hub capacity
			max_per_client 1
			subscribe_allow **
		}
	}
}`)
	alice := []string{"Authorization", basicAuthHeader("alice", "secret")}
	bob := []string{"Authorization", basicAuthHeader("bob", "secret")}
	// Same client IP, different users: each has a stream of their own.
	a1 := tc.Subscribe("/?topic=a", alice...)
	b1 := tc.Subscribe("/?topic=a", bob...)
	expectCapacityClose(t, tc.Subscribe("/?topic=a", alice...))
	expectCapacityClose(t, tc.Subscribe("/?topic=a", bob...))
	expectLive(t, tc, "/pub", a1, b1)

	a1.Close()
	waitSubscribers(t, "capacity", 1)
	a2 := tc.Subscribe("/?topic=a", alice...)
	expectLive(t, tc, "/pub", a2, b1)
}
