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

// Bad publishes and subscribes against a real Caddy: each gets its status
// and a short message naming the problem, and nothing else changes. An open
// subscriber of every topic witnesses that: after each bad request a valid
// sentinel is published, and it must be the very next event the witness
// gets, with the id right after the previous valid one.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// witness is a subscriber of every topic that proves a request stored
// nothing and used no id.
type witness struct {
	tc     *testCaddy
	s      *sseStream
	lastID string // the last id a valid publish got
}

func newWitness(t *testing.T, tc *testCaddy) *witness {
	t.Helper()
	w := &witness{tc: tc, s: tc.Subscribe("/?topic=**")}
	w.lastID = tc.PublishForm("/", "topic", "sentinel", "data", "sentinel")
	expectEvent(t, w.s, w.lastID, "message", "sentinel")
	return w
}

// untouched publishes a sentinel and checks it is the next event and takes
// the next id: whatever came before changed nothing a subscriber can see.
func (w *witness) untouched(t *testing.T, what string) {
	t.Helper()
	id := w.tc.PublishForm("/", "topic", "sentinel", "data", "sentinel")
	ev := w.s.Next(itWait)
	if ev.ID != id || ev.Data != "sentinel" {
		t.Fatalf("%s: the subscriber got event id=%q type=%q data=%q before the sentinel %s", what, ev.ID, ev.Type, ev.Data, id)
	}
	w.accepted(t, what, id)
}

// accepted checks that id, which a valid publish just got, follows the
// previous valid id, and records it.
func (w *witness) accepted(t *testing.T, what, id string) {
	t.Helper()
	if seqOf(t, id) != seqOf(t, w.lastID)+1 {
		t.Fatalf("%s: id %s does not follow %s: an id was used in between", what, id, w.lastID)
	}
	w.lastID = id
}

// expectPublished checks that a publish the test expected to succeed
// reached the witness as the next event with the next id.
func (w *witness) expectPublished(t *testing.T, what, id string) {
	t.Helper()
	if ev := w.s.Next(itWait); ev.ID != id {
		t.Fatalf("%s: the subscriber got %q, want the accepted event %s", what, ev.ID, id)
	}
	w.accepted(t, what, id)
}

// badInputCase is one bad request and what its client must see.
type badInputCase struct {
	name   string
	method string // default POST
	path   string // default "/"
	ct     string // Content-Type; JSON types want a JSON error body
	body   string
	header []string
	status int
	msg    string // the message must contain this, case-insensitively
	allow  string // the Allow header a 405 must carry
}

func (c badInputCase) run(t *testing.T, tc *testCaddy) {
	t.Helper()
	method, path := c.method, c.path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/"
	}
	resp, body := itRequest(t, method, tc.URL+path, c.ct, strings.NewReader(c.body), c.header...)
	if resp.StatusCode != c.status {
		t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, c.status)
	}
	expectShortMessage(t, resp, body, strings.HasPrefix(c.ct, ctJSON), c.msg)
	if c.allow != "" {
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Fatalf("Allow: %q, want %q", got, c.allow)
		}
	}
}

// itBadInputSite has a main route granting everything, with max_topics 3,
// and a route that only subscribes.
const itBadInputSite = `http://127.0.0.1:{PORT} {
	sse /ro* {
		publish off
		subscribe_allow **
	}
	sse {
		max_topics 3
		heartbeat off
		subscribe_allow **
		publish_allow **
	}
}`

func TestBadInputPublish(t *testing.T) {
	tc := startCaddy(t, itBadInputSite)
	w := newWitness(t, tc)
	long := strings.Repeat("a", 257)

	form := func(name, body string, status int, msg string) badInputCase {
		return badInputCase{name: "form " + name, ct: ctForm, body: body, status: status, msg: msg}
	}
	jsonCase := func(name, body string, status int, msg string) badInputCase {
		return badInputCase{name: "json " + name, ct: ctJSON, body: body, status: status, msg: msg}
	}
	const bad = http.StatusBadRequest
	cases := []badInputCase{
		form("CR in event", "topic=t&data=x&event=a%0Db", bad, "CR, LF or NUL"),
		form("LF in event", "topic=t&data=x&event=a%0Ab", bad, "CR, LF or NUL"),
		form("NUL in event", "topic=t&data=x&event=a%00b", bad, "CR, LF or NUL"),
		form("CR in type", "topic=t&data=x&type=%0D", bad, "CR, LF or NUL"),
		form("sse.reset event", "topic=t&data=x&event=sse.reset", bad, "reserved"),
		form("sse.close type", "topic=t&data=x&type=sse.close", bad, "reserved"),
		form("sse. prefix", "topic=t&data=x&event=sse.mine", bad, "reserved"),
		form("invalid UTF-8 data", "topic=t&data=%FF", bad, "UTF-8"),
		form("invalid UTF-8 data after valid text", "topic=t&data=ok%C3%28", bad, "UTF-8"),
		form("invalid UTF-8 event", "topic=t&data=x&event=%FF", bad, "UTF-8"),
		form("invalid UTF-8 topic", "topic=%FF&data=x", bad, "UTF-8"),
		form("retry -1", "topic=t&data=x&retry=-1", bad, "retry"),
		form("retry abc", "topic=t&data=x&retry=abc", bad, "retry"),
		form("retry 1.5", "topic=t&data=x&retry=1.5", bad, "retry"),
		form("retry empty", "topic=t&data=x&retry=", bad, "retry"),
		form("retry overflow", "topic=t&data=x&retry=99999999999999999999", bad, "retry"),
		form("empty topic", "topic=&data=x", bad, "topic is empty"),
		form("257-byte topic", "topic="+long+"&data=x", bad, "longer than 256"),
		form("space in topic", "topic=a+b&data=x", bad, "whitespace"),
		form("tab in topic", "topic=a%09b&data=x", bad, "whitespace"),
		form("star in topic", "topic=a/*&data=x", bad, "wildcard"),
		form("star inside a segment", "topic=a*&data=x", bad, "wildcard"),
		form("double star topic", "topic=**&data=x", bad, "wildcard"),
		form("empty segment", "topic=a//b&data=x", bad, "empty segment"),
		form("leading slash", "topic=/a&data=x", bad, "empty segment"),
		form("trailing slash", "topic=a/&data=x", bad, "empty segment"),
		form("one bad topic of several", "topic=t&topic=a*&data=x", bad, "wildcard"),
		form("missing topic", "data=x", bad, "topic is missing"),
		form("missing data", "topic=t", bad, "data is missing"),
		form("empty data", "topic=t&data=", bad, "data is missing or empty"),
		form("unknown field", "topic=t&data=x&colour=red", bad, "unknown field"),
		form("data twice", "topic=t&data=x&data=y", bad, "more than once"),
		form("event and type", "topic=t&data=x&event=a&type=b", bad, "either event or type"),
		form("malformed", "topic=t&data=%zz", bad, "malformed form"),
		form("empty body", "", bad, "topic is missing"),

		jsonCase("LF in event", `{"topic":"t","event":"a\nb","data":"x"}`, bad, "CR, LF or NUL"),
		jsonCase("CR in type", `{"topic":"t","type":"a\rb","data":"x"}`, bad, "CR, LF or NUL"),
		jsonCase("NUL in event", `{"topic":"t","event":"a\u0000b","data":"x"}`, bad, "CR, LF or NUL"),
		jsonCase("sse.reset event", `{"topic":"t","event":"sse.reset","data":"x"}`, bad, "reserved"),
		jsonCase("invalid UTF-8 data", "{\"topic\":\"t\",\"data\":\"\xff\"}", bad, "UTF-8"),
		jsonCase("invalid UTF-8 event", "{\"topic\":\"t\",\"event\":\"\xc3\x28\",\"data\":\"x\"}", bad, "UTF-8"),
		jsonCase("retry -1", `{"topic":"t","data":"x","retry":-1}`, bad, "retry"),
		jsonCase("retry abc", `{"topic":"t","data":"x","retry":"abc"}`, bad, "retry"),
		jsonCase("retry 1.5", `{"topic":"t","data":"x","retry":1.5}`, bad, "retry"),
		jsonCase("retry 1e3", `{"topic":"t","data":"x","retry":1e3}`, bad, "retry"),
		jsonCase("empty topic", `{"topic":"","data":"x"}`, bad, "topic is empty"),
		jsonCase("257-byte topic", `{"topic":"`+long+`","data":"x"}`, bad, "longer than 256"),
		jsonCase("space in topic", `{"topic":"a b","data":"x"}`, bad, "whitespace"),
		jsonCase("tab in topic", `{"topic":"a\tb","data":"x"}`, bad, "whitespace"),
		jsonCase("star in topic", `{"topic":"a/*","data":"x"}`, bad, "wildcard"),
		jsonCase("empty segment", `{"topics":["t","a//b"],"data":"x"}`, bad, "empty segment"),
		jsonCase("missing topic", `{"data":"x"}`, bad, "topic is missing"),
		jsonCase("empty topics", `{"topics":[],"data":"x"}`, bad, "topic is missing"),
		jsonCase("topic and topics", `{"topic":"t","topics":["u"],"data":"x"}`, bad, "either topic or topics"),
		jsonCase("event and type", `{"topic":"t","event":"a","type":"b","data":"x"}`, bad, "either event or type"),
		jsonCase("missing data", `{"topic":"t"}`, bad, "data is missing"),
		jsonCase("null data", `{"topic":"t","data":null}`, bad, "data is missing"),
		jsonCase("empty data", `{"topic":"t","data":""}`, bad, "data is missing or empty"),
		jsonCase("unknown field", `{"topic":"t","data":"x","colour":"red"}`, bad, "unknown field"),
		jsonCase("malformed", `{"topic":"t","data":`, bad, "malformed JSON"),
		jsonCase("not an object", `"t"`, bad, "malformed JSON"),
		jsonCase("empty body", ``, bad, "malformed JSON"),
		jsonCase("trailing garbage", `{"topic":"t","data":"x"} x`, bad, "trailing"),
		jsonCase("trailing brace", `{"topic":"t","data":"x"}}`, bad, "trailing"),
		jsonCase("trailing bracket", `[{"topic":"t","data":"x"}]]`, bad, "trailing"),
		jsonCase("second object", `{"topic":"t","data":"x"}{"topic":"t","data":"y"}`, bad, "trailing"),
		jsonCase("empty batch", `[]`, bad, "batch is empty"),
		jsonCase("batch with one bad event", `[{"topic":"t","data":"ok"},{"topic":"a*","data":"bad"},{"topic":"t","data":"ok"}]`, bad, "event 1"),
		jsonCase("batch with a bad retry last", `[{"topic":"t","data":"ok"},{"topic":"t","data":"x","retry":-5}]`, bad, "retry"),
		{name: "json with charset, malformed", ct: ctJSON + "; charset=utf-8", body: `{`, status: bad, msg: "malformed JSON"},

		{name: "PUT", method: http.MethodPut, ct: ctForm, body: "topic=t&data=x", status: http.StatusMethodNotAllowed, msg: "method not allowed", allow: "GET, POST"},
		{name: "DELETE", method: http.MethodDelete, status: http.StatusMethodNotAllowed, msg: "method not allowed", allow: "GET, POST"},
		{name: "PATCH json", method: http.MethodPatch, ct: ctJSON, body: `{"topic":"t","data":"x"}`, status: http.StatusMethodNotAllowed, msg: "method not allowed", allow: "GET, POST"},
		{name: "POST with publish off", path: "/ro", ct: ctForm, body: "topic=t&data=x", status: http.StatusMethodNotAllowed, msg: "method not allowed", allow: "GET"},
		{name: "text/plain", ct: "text/plain", body: "topic=t&data=x", status: http.StatusUnsupportedMediaType, msg: "content type"},
		{name: "multipart", ct: "multipart/form-data; boundary=x", body: "--x--", status: http.StatusUnsupportedMediaType, msg: "content type"},
		{name: "no content type", body: "topic=t&data=x", status: http.StatusUnsupportedMediaType, msg: "content type"},
		{name: "Idempotency-Key of 257 bytes", ct: ctForm, body: "topic=t&data=x", header: []string{"Idempotency-Key", long}, status: bad, msg: "Idempotency-Key"},
		{name: "Idempotency-Key with a space", ct: ctForm, body: "topic=t&data=x", header: []string{"Idempotency-Key", "a b"}, status: bad, msg: "Idempotency-Key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, tc)
			w.untouched(t, c.name)
		})
	}
}

func TestBadInputSubscribe(t *testing.T) {
	tc := startCaddy(t, itBadInputSite)
	w := newWitness(t, tc)
	get := func(name, query, msg string) badInputCase {
		return badInputCase{name: name, method: http.MethodGet, path: "/?" + query, status: http.StatusBadRequest, msg: msg}
	}
	cases := []badInputCase{
		get("no topic", "", "topic is missing"),
		get("no topic but other parameters", "replay=3", "topic is missing"),
		get("empty topic", "topic=", "empty"),
		get("star inside a segment", "topic=a*", "whole segment"),
		get("double star not last", "topic=**/x", "whole segment"),
		get("double star in the middle", "topic=a/**/b", "whole segment"),
		get("triple star", "topic=***", "whole segment"),
		get("one bad selector of several", "topic=a&topic=b*", "whole segment"),
		get("empty segment", "topic=a//b", "empty segment"),
		get("leading slash", "topic=/a", "empty segment"),
		get("space", "topic=a+b", "whitespace"),
		get("257-byte selector", "topic="+strings.Repeat("a", 257), "longer than 256"),
		get("invalid UTF-8", "topic=%FF", "UTF-8"),
		get("max_topics + 1", "topic=a&topic=b&topic=c&topic=d", "too many topics"),
		get("replay abc", "topic=a&replay=abc", "replay"),
		get("replay -1", "topic=a&replay=-1", "replay"),
		{name: "wildcard with a JSON Accept", method: http.MethodGet, path: "/?topic=a*", header: []string{"Accept", ctJSON},
			status: http.StatusBadRequest, msg: "whole segment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.header) > 0 {
				// The error is JSON when the client asks for JSON.
				resp, body := itRequest(t, c.method, tc.URL+c.path, "", nil, c.header...)
				if resp.StatusCode != c.status {
					t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, c.status)
				}
				expectShortMessage(t, resp, body, true, c.msg)
			} else {
				c.run(t, tc)
			}
			w.untouched(t, c.name)
		})
	}
}

// TestBadInputLimits tests each limit at its edge and one past it.
func TestBadInputLimits(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /event* {
		max_event_size 200
		publish_allow **
	}
	sse /body* {
		max_body_size 100
		publish_allow **
	}
	sse {
		max_topics 3
		heartbeat off
		subscribe_allow **
		publish_allow **
	}
}`)
	w := newWitness(t, tc)

	t.Run("max_topics", func(t *testing.T) {
		if status, body := itGet(t, tc.URL+"/?topic=a&topic=b&topic=c"); status != http.StatusOK {
			t.Fatalf("3 selectors with max_topics 3: %d %q, want 200", status, body)
		}
		badInputCase{method: http.MethodGet, path: "/?topic=a&topic=b&topic=c&topic=d",
			status: http.StatusBadRequest, msg: "too many topics"}.run(t, tc)
		w.untouched(t, "max_topics + 1")
	})

	t.Run("topic length", func(t *testing.T) {
		topic := strings.Repeat("a", 127) + "/" + strings.Repeat("b", 128)
		if status, body := itGet(t, tc.URL+"/?topic="+topic); status != http.StatusOK {
			t.Fatalf("subscribe to a 256-byte topic: %d %q, want 200", status, body)
		}
		w.expectPublished(t, "256-byte topic", tc.PublishForm("/", "topic", topic, "data", "x"))
		badInputCase{ct: ctForm, body: "topic=" + topic + "b&data=x", status: http.StatusBadRequest, msg: "longer than 256"}.run(t, tc)
		w.untouched(t, "257-byte topic")
	})

	t.Run("max_event_size", func(t *testing.T) {
		// A form event to topic t encodes as "id: <id>\n" "topic: t\n"
		// "data: <data>\n" "\n": 22 bytes besides the id and the data.
		dataFor := func(id string, size int) string { return strings.Repeat("x", size-22-len(id)) }
		id := nextID(t, w.lastID)
		status, body := tc.Post("/event", ctForm, "topic=t&data="+dataFor(id, 200))
		if status != http.StatusOK || strings.TrimSpace(body) != id {
			t.Fatalf("event of exactly max_event_size: %d %q, want 200 and id %s", status, body, id)
		}
		w.expectPublished(t, "event of max_event_size", id)

		badInputCase{path: "/event", ct: ctForm, body: "topic=t&data=" + dataFor(nextID(t, id), 201),
			status: http.StatusRequestEntityTooLarge, msg: "max_event_size"}.run(t, tc)
		w.untouched(t, "event one byte over max_event_size")

		// All or nothing: a batch whose last event is too large stores none.
		batch := fmt.Sprintf(`[{"topic":"t","data":"small"},{"topic":"t","data":%q}]`, strings.Repeat("x", 200))
		badInputCase{path: "/event", ct: ctJSON, body: batch, status: http.StatusRequestEntityTooLarge, msg: "max_event_size"}.run(t, tc)
		w.untouched(t, "batch with an event over max_event_size")
	})

	t.Run("max_body_size", func(t *testing.T) {
		body := func(size int) string { return "topic=t&data=" + strings.Repeat("x", size-len("topic=t&data=")) }
		// hideLength makes the client send the body chunked.
		hideLength := func(s string) io.Reader { return struct{ io.Reader }{strings.NewReader(s)} }
		for _, c := range []struct {
			name string
			body io.Reader
		}{
			{"Content-Length", strings.NewReader(body(100))},
			{"chunked", hideLength(body(100))},
		} {
			resp, got := itRequest(t, http.MethodPost, tc.URL+"/body", ctForm, c.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s body of exactly max_body_size: %d %q, want 200", c.name, resp.StatusCode, got)
			}
			w.expectPublished(t, c.name+" body of max_body_size", strings.TrimSpace(got))
		}
		for _, c := range []struct {
			name string
			body io.Reader
		}{
			{"Content-Length", strings.NewReader(body(101))},
			{"chunked", hideLength(body(101))},
		} {
			resp, got := itRequest(t, http.MethodPost, tc.URL+"/body", ctForm, c.body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s body one byte over max_body_size: %d %q, want 413", c.name, resp.StatusCode, got)
			}
			expectShortMessage(t, resp, got, false, "max_body_size")
			w.untouched(t, c.name+" body one byte over max_body_size")
		}
	})

	t.Run("declared length over max_body_size", func(t *testing.T) {
		// The client declares 1 GiB and sends a few bytes: a server that
		// read the body before refusing it would wait for the rest.
		conn, br := rawPost(t, tc, "/body", "Content-Length: 1073741824")
		if _, err := io.WriteString(conn, "topic=t&da"); err != nil {
			t.Fatal(err)
		}
		expectRawStatus(t, br, http.StatusRequestEntityTooLarge, "max_body_size")
		w.untouched(t, "declared length over max_body_size")
	})

	t.Run("chunked body over max_body_size", func(t *testing.T) {
		// The client offers 1 GiB as fast as the server takes it. The 413
		// must come while only a little of it was sent: the server stops
		// reading at the limit.
		const offered = 1 << 30
		conn, br := rawPost(t, tc, "/body", "Transfer-Encoding: chunked")
		var written atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			chunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", 16<<10, strings.Repeat("x", 16<<10)))
			if _, err := io.WriteString(conn, "d\r\ntopic=t&data=\r\n"); err != nil {
				return
			}
			for written.Load() < offered {
				n, err := conn.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		expectRawStatus(t, br, http.StatusRequestEntityTooLarge, "max_body_size")
		conn.Close() // ends the writer
		<-done
		if n := written.Load(); n >= 64<<20 {
			t.Fatalf("the client wrote %d bytes before the 413: the server read past max_body_size", n)
		}
		t.Logf("the client wrote %d of %d offered bytes before the 413", written.Load(), offered)
		w.untouched(t, "chunked body over max_body_size")
	})

	t.Run("Idempotency-Key length", func(t *testing.T) {
		key := strings.Repeat("k", 256)
		status, body := tc.Post("/", ctForm, "topic=t&data=x", "Idempotency-Key", key)
		if status != http.StatusOK {
			t.Fatalf("256-byte Idempotency-Key: %d %q, want 200", status, body)
		}
		w.expectPublished(t, "256-byte Idempotency-Key", strings.TrimSpace(body))
		badInputCase{ct: ctForm, body: "topic=t&data=x", header: []string{"Idempotency-Key", key + "k"},
			status: http.StatusBadRequest, msg: "Idempotency-Key"}.run(t, tc)
		w.untouched(t, "257-byte Idempotency-Key")
	})
}

// rawPost opens a TCP connection and sends the head of a form POST with
// the given extra header line; the caller writes the body.
func rawPost(t *testing.T, tc *testCaddy, path, header string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(tc.Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(itWait)); err != nil {
		t.Fatal(err)
	}
	head := "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + strconv.Itoa(tc.Port) +
		"\r\nContent-Type: " + ctForm + "\r\n" + header + "\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// expectRawStatus reads a response from a raw connection and checks its
// status and that its body names the problem.
func expectRawStatus(t *testing.T, br *bufio.Reader, status int, msg string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, status)
	}
	expectShortMessage(t, resp, string(body), false, msg)
}
