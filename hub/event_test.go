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

package hub

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
)

// lineBreaks normalises CRLF and lone CR to LF, as a WHATWG parser does.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// checkRoundTrip encodes a valid event, parses it back with the WHATWG
// parser and checks that a client sees what was published.
func checkRoundTrip(t *testing.T, ev *Event) {
	t.Helper()
	wire := ev.Encode()
	p := ssetest.NewParser(bytes.NewReader(wire))
	got, err := p.Next()
	if err != nil {
		t.Fatalf("parsing %q: %v", wire, err)
	}
	if want := lineBreaks.Replace(ev.Data); got.Data != want {
		t.Errorf("data = %q, want %q (wire %q)", got.Data, want, wire)
	}
	wantType := ev.Type
	if wantType == "" {
		wantType = "message"
	}
	if got.Type != wantType {
		t.Errorf("type = %q, want %q (wire %q)", got.Type, wantType, wire)
	}
	if got.ID != ev.ID {
		t.Errorf("id = %q, want %q (wire %q)", got.ID, ev.ID, wire)
	}
	if !slices.Equal(got.Topics, ev.Topics) {
		t.Errorf("topics = %q, want %q (wire %q)", got.Topics, ev.Topics, wire)
	}
	wantRetry := -1
	if ev.Retry > 0 {
		wantRetry = int(ev.Retry.Milliseconds())
	}
	if got.Retry != wantRetry {
		t.Errorf("retry = %d, want %d (wire %q)", got.Retry, wantRetry, wire)
	}
	if p.Comments != 0 {
		t.Errorf("%d comment lines in %q", p.Comments, wire)
	}
	// One event, one blank line: nothing may follow it.
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("after the event: %v, want EOF (wire %q)", err, wire)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
	}{
		{"plain", Event{ID: "e-1", Topics: []string{"a"}, Data: "hello"}},
		{"no id", Event{Topics: []string{"a"}, Data: "hello"}},
		{"LF", Event{ID: "e-1", Topics: []string{"a"}, Data: "one\ntwo\nthree"}},
		{"CRLF", Event{ID: "e-1", Topics: []string{"a"}, Data: "one\r\ntwo\r\nthree"}},
		{"lone CR", Event{ID: "e-1", Topics: []string{"a"}, Data: "one\rtwo\rthree"}},
		{"mixed line ends", Event{ID: "e-1", Topics: []string{"a"}, Data: "a\r\nb\nc\rd\r\r\ne\n\rf"}},
		{"blank line in data", Event{ID: "e-1", Topics: []string{"a"}, Data: "one\n\ntwo"}},
		{"CRLF blank line in data", Event{ID: "e-1", Topics: []string{"a"}, Data: "one\r\n\r\ntwo"}},
		{"trailing LF", Event{ID: "e-1", Topics: []string{"a"}, Data: "one\n"}},
		{"trailing CR", Event{ID: "e-1", Topics: []string{"a"}, Data: "one\r"}},
		{"trailing blank lines", Event{ID: "e-1", Topics: []string{"a"}, Data: "one\n\n\n"}},
		{"leading LF", Event{ID: "e-1", Topics: []string{"a"}, Data: "\none"}},
		{"only a LF", Event{ID: "e-1", Topics: []string{"a"}, Data: "\n"}},
		{"only CRLFs", Event{ID: "e-1", Topics: []string{"a"}, Data: "\r\n\r\n"}},
		{"leading space", Event{ID: "e-1", Topics: []string{"a"}, Data: " indented"}},
		{"leading spaces on lines", Event{ID: "e-1", Topics: []string{"a"}, Data: "  two\n   three\n\tfour"}},
		{"only spaces", Event{ID: "e-1", Topics: []string{"a"}, Data: "   "}},
		{"leading colon", Event{ID: "e-1", Topics: []string{"a"}, Data: ":not a comment"}},
		{"colon lines", Event{ID: "e-1", Topics: []string{"a"}, Data: "x\n:y\n: z"}},
		{"field-like lines", Event{ID: "e-1", Topics: []string{"a"}, Data: "id: x\nevent: y\nretry: 5\ndata: d\ntopic: t"}},
		{"field-like first line", Event{ID: "e-1", Topics: []string{"a"}, Data: "id: forged"}},
		{"unicode", Event{ID: "e-1", Topics: []string{"a"}, Data: "José 日本 🎉 👩‍💻"}},
		{"unicode separators", Event{ID: "e-1", Topics: []string{"a"}, Data: "a\u2028b\u2029c\u0085d"}},
		{"byte order mark", Event{ID: "e-1", Topics: []string{"a"}, Data: "\ufeffx"}},
		{"NUL", Event{ID: "e-1", Topics: []string{"a"}, Data: "a\x00b"}},
		{"JSON", Event{ID: "e-1", Topics: []string{"a"}, Data: `{"a":[1,2],"b":"c\nd"}`}},
		{"type", Event{ID: "e-1", Type: "warn", Topics: []string{"logs/app"}, Data: "disk"}},
		{"type message omitted", Event{ID: "e-1", Type: "message", Topics: []string{"a"}, Data: "x"}},
		{"type with spaces and colon", Event{ID: "e-1", Type: " a: b ", Topics: []string{"a"}, Data: "x"}},
		{"unicode type", Event{ID: "e-1", Type: "événement\u2028🎉", Topics: []string{"a"}, Data: "x"}},
		{"topics", Event{ID: "e-1", Topics: []string{"orders/42", "users/7/notifications", "🎉/party"}, Data: "x"}},
		{"retry", Event{ID: "e-1", Topics: []string{"a"}, Data: "x", Retry: 5 * time.Second}},
		{"retry milliseconds", Event{ID: "e-1", Topics: []string{"a"}, Data: "x", Retry: 1500 * time.Millisecond}},
		{"all fields", Event{ID: "e-9", Type: "progress", Topics: []string{"jobs/1", "jobs/all"}, Data: "50%\r\n\r\ndone: no", Retry: 250 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.ev.Validate(); err != nil {
				t.Fatalf("the test event is invalid: %v", err)
			}
			checkRoundTrip(t, &tc.ev)
		})
	}
}

// TestEncodeWire pins the lines a client receives for one event.
func TestEncodeWire(t *testing.T) {
	ev := Event{ID: "k-3", Type: "warn", Topics: []string{"logs/a", "logs/b"}, Data: " x\r\ny\rz\n", Retry: 2 * time.Second}
	want := "id: k-3\nevent: warn\nretry: 2000\ntopic: logs/a\ntopic: logs/b\ndata:  x\ndata: y\ndata: z\ndata: \n\n"
	if got := string(ev.Encode()); got != want {
		t.Fatalf("encode() =\n%q\nwant\n%q", got, want)
	}
	ev.Type = "message"
	ev.Retry = 0
	want = "id: k-3\ntopic: logs/a\ntopic: logs/b\ndata:  x\ndata: y\ndata: z\ndata: \n\n"
	if got := string(ev.Encode()); got != want {
		t.Fatalf("encode() =\n%q\nwant\n%q", got, want)
	}
}

func TestEncodeControlEvent(t *testing.T) {
	for _, id := range []string{"k-7", ""} {
		wire := ControlEvent("sse.reset", id, 0, `{"reason":"unknown_id"}`)
		p := ssetest.NewParser(bytes.NewReader(wire))
		p.LastID = "before" // the client's last id, which an id-less event keeps
		got, err := p.Next()
		if err != nil {
			t.Fatalf("parsing %q: %v", wire, err)
		}
		wantID := id
		if id == "" {
			wantID = "before"
		}
		if got.Type != "sse.reset" || got.Data != `{"reason":"unknown_id"}` || got.ID != wantID || got.Topics != nil || got.Retry != -1 {
			t.Errorf("ControlEvent(id %q) parsed as %+v", id, got)
		}
	}
}

func TestEventValidate(t *testing.T) {
	valid := func() Event {
		return Event{Type: "update", Topics: []string{"orders/42"}, Data: "x"}
	}
	tests := []struct {
		name   string
		modify func(*Event)
		want   error // nil for a valid event
	}{
		{"valid", func(e *Event) {}, nil},
		{"empty type", func(e *Event) { e.Type = "" }, nil},
		{"sse without a dot", func(e *Event) { e.Type = "sse" }, nil},
		{"sse inside", func(e *Event) { e.Type = "x.sse.y" }, nil},
		{"zero retry", func(e *Event) { e.Retry = 0 }, nil},
		{"several topics", func(e *Event) { e.Topics = []string{"a", "b/c"} }, nil},
		{"CR in type", func(e *Event) { e.Type = "a\rb" }, errTypeChars},
		{"LF in type", func(e *Event) { e.Type = "a\nb" }, errTypeChars},
		{"CRLF type", func(e *Event) { e.Type = "\r\n" }, errTypeChars},
		{"NUL in type", func(e *Event) { e.Type = "a\x00b" }, errTypeChars},
		{"reserved type", func(e *Event) { e.Type = "sse.reset" }, errTypeReserved},
		{"reserved prefix alone", func(e *Event) { e.Type = "sse." }, errTypeReserved},
		{"reserved close", func(e *Event) { e.Type = "sse.close" }, errTypeReserved},
		{"invalid UTF-8 in type", func(e *Event) { e.Type = "a\xffb" }, errTypeUTF8},
		{"empty data", func(e *Event) { e.Data = "" }, ErrDataMissing},
		{"invalid UTF-8 in data", func(e *Event) { e.Data = "a\xc3" }, errDataUTF8},
		{"surrogate in data", func(e *Event) { e.Data = "\xed\xa0\x80" }, errDataUTF8},
		{"no topic", func(e *Event) { e.Topics = nil }, ErrNoTopic},
		{"empty topic list", func(e *Event) { e.Topics = []string{} }, ErrNoTopic},
		{"empty topic", func(e *Event) { e.Topics = []string{""} }, errTopicEmpty},
		{"wildcard topic", func(e *Event) { e.Topics = []string{"orders/*"} }, errTopicWildcard},
		{"double wildcard topic", func(e *Event) { e.Topics = []string{"**"} }, errTopicWildcard},
		{"bad second topic", func(e *Event) { e.Topics = []string{"ok", "a b"} }, errTopicChar},
		{"empty segment", func(e *Event) { e.Topics = []string{"a//b"} }, errTopicSegment},
		{"topic too long", func(e *Event) { e.Topics = []string{strings.Repeat("a", 257)} }, errTopicTooLong},
		{"negative retry", func(e *Event) { e.Retry = -time.Millisecond }, ErrRetry},
		{"retry of minus one nanosecond", func(e *Event) { e.Retry = -1 }, ErrRetry},
	}
	for _, tc := range tests {
		ev := valid()
		tc.modify(&ev)
		err := ev.Validate()
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: validate() = %v, want nil", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: validate() = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzEncodeRoundTrip checks that every event validate accepts reaches a
// WHATWG client intact.
func FuzzEncodeRoundTrip(f *testing.F) {
	seeds := []struct {
		data, typ, topic1, topic2 string
		retryMS                   int64
	}{
		{"hello", "", "a", "", 0},
		{"one\ntwo", "message", "a", "", 0},
		{"one\r\ntwo", "warn", "logs/app", "", 0},
		{"one\rtwo", "", "a", "", 0},
		{"one\n\ntwo", "", "a", "", 0},
		{"one\r\n\r\ntwo\r", "", "a", "", 0},
		{"trailing\n", "", "a", "", 0},
		{" leading space", " spaced type ", "a", "", 0},
		{":colon", "", "a", "", 0},
		{"id: x\nevent: y\nretry: 5", "", "a", "", 0},
		{"a\u2028b\u2029c", "é\u2028", "🎉/x", "日本", 0},
		{"emoji 🎉👩‍💻", "", "a", "", 0},
		{"a\x00b", "", "a", "", 0},
		{"\ufeffbom", "", "a", "", 0},
		{"x", "", "orders/42", "users/7/notifications", 0},
		{"x", "progress", "a", "b", 2000},
		{"x", "", "a", "", 1},
		{"x", "", "a", "", -1},
		{"x", "a\nb", "a", "", 0},
		{"x", "sse.reset", "a", "", 0},
		{"x", "a\xff", "a", "", 0},
		{"\xff", "", "a", "", 0},
		{"", "", "a", "", 0},
		{"x", "", "", "", 0},
		{"x", "", "a/*", "", 0},
		{"x", "", "a//b", "", 0},
	}
	for _, s := range seeds {
		f.Add(s.data, s.typ, s.topic1, s.topic2, s.retryMS)
	}
	f.Fuzz(func(t *testing.T, data, typ, topic1, topic2 string, retryMS int64) {
		ev := &Event{ID: "e-1", Type: typ, Data: data, Retry: time.Duration(retryMS) * time.Millisecond}
		for _, topic := range []string{topic1, topic2} {
			if topic != "" {
				ev.Topics = append(ev.Topics, topic)
			}
		}
		if ev.Validate() != nil {
			return
		}
		checkRoundTrip(t, ev)
	})
}
