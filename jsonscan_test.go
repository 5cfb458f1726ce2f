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
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddy-sse/caddy-sse/hub"
)

// scanBodies are publish bodies the scanner must read itself (fast) or
// leave to encoding/json (slow); every one is also checked against
// encoding/json by checkScanAgrees.
var scanBodies = []struct {
	body string
	fast bool
}{
	{`{"topic":"a","data":"x"}`, true},
	{` {"topic" : "a" , "data" : "x" } `, true},
	{"\t\r\n{\"topic\":\"a\",\n\"data\":\"x\"}\n", true},
	{`[{"data":"1764000000000000000","topic":"bench"},{"data":"2","topic":"bench"}]`, true},
	{`[ {"topic":"a","data":"x"} , {"topics":["b","c/d"],"data":"y"} ]`, true},
	{`{"topics":["a","b","a"],"event":"log","data":"x","retry":2500}`, true},
	{`{"topic":"a","type":"warn","data":"x"}`, true},
	{`{"topic":"a","event":"","type":"warn","data":"x"}`, true},
	{`{"topic":"a","event":"info","type":"","data":"x"}`, true},
	{`{"topic":"a","data":"line 1\nline 2\r\nline 3\rend\t\"q\" \\ \/ \b\f"}`, true},
	{`{"topic":"a","data":"caf\u00e9 \u20AC \ud83d\ude00 \u0000"}`, true},
	{`{"topic":"a","data":"lone \ud83d and \ude00 and \ud83d\u0041 end"}`, true},
	{`{"topic":"a","data":"\ud83d\ud83d\ude00"}`, true},
	{`{"topic":"a","data":"é ü 中文 😀"}`, true},
	{`{"topic":"a","data":""}`, true},
	{`{"topic":"","data":"x"}`, true},
	{`{"topic":"a b","data":"x"}`, true},
	{`{"topic":"a","event":"sse.reset","data":"x"}`, true},
	{`{"topic":"a","data":{"status": "shipped", "items": [1, 2.5e3, true, false, null, "a \"b\" ]}"]}}`, true},
	{`{"topic":"a","data":[ 1 , [ ] , { } ]}`, true},
	{`{"topic":"a","data":42}`, true},
	{`{"topic":"a","data":-1.5e-3 }`, true},
	{`{"topic":"a","data":true}`, true},
	{`{"topic":"a","data":false,"retry":0}`, true},
	{`{"topic":"a","data":"x","retry":8796093022208}`, true},
	{`{"topic":"a","data":"x","hub":"h"}`, false},
	{`[{"topic":"a","data":"x","hub":"h"},{"topic":"b","data":"y","hub":"h"}]`, false},
	{`[{"topic":"a","data":"x","hub":"h"},{"topic":"b","data":"y","hub":"g"}]`, false},
	{`[{"topic":"a","data":"x","hub":"h"},{"topic":"b","data":"y"}]`, false},

	{`{"topic":"a","data":null}`, false},
	{`{"topic":"a"}`, false},
	{`{"data":"x"}`, false},
	{`{}`, false},
	{`[]`, false},
	{` [ ] `, false},
	{`null`, false},
	{`[null]`, false},
	{`"x"`, false},
	{``, false},
	{`{"topic":"a","data":"x"`, false},
	{`{"topic":"a","data":"x"}}`, false},
	{`{"topic":"a","data":"x"} {}`, false},
	{`[{"topic":"a","data":"x"},]`, false},
	{`[{"topic":"a","data":"x"}`, false},
	{`{"topic":"a","data":"x",}`, false},
	{`{"topic":"a","topics":["b"],"data":"x"}`, false},
	{`{"topic":"a","topics":null,"data":"x"}`, false},
	{`{"topics":[],"data":"x"}`, false},
	{`{"topics":[null],"data":"x"}`, false},
	{`{"topics":"a","data":"x"}`, false},
	{`{"topic":null,"topics":["a"],"data":"x"}`, false},
	{`{"topic":"a","event":"e","type":"t","data":"x"}`, false},
	{`{"topic":"a","topic":"b","data":"x"}`, false},
	{`{"topic":"a","data":"x","data":"y"}`, false},
	{`{"Topic":"a","data":"x"}`, false},
	{`{"TOPIC":"a","DATA":"x"}`, false},
	{`{"\u0074opic":"a","data":"x"}`, false},
	{`{"topic":"a","data":"x","extra":1}`, false},
	{`{"topic":"a","data":"x","retry":"5"}`, false},
	{`{"topic":"a","data":"x","retry":-5}`, false},
	{`{"topic":"a","data":"x","retry":-0}`, false},
	{`{"topic":"a","data":"x","retry":05}`, false},
	{`{"topic":"a","data":"x","retry":1.5}`, false},
	{`{"topic":"a","data":"x","retry":1e3}`, false},
	{`{"topic":"a","data":"x","retry":null}`, false},
	{`{"topic":"a","data":"x","retry":8796093022209}`, false},
	{`{"topic":"a","data":"x","retry":99999999999999999999}`, false},
	{`{"topic":"a","data":"x","retry":}`, false},
	{`{"topic":"a","data":"bad \x escape"}`, false},
	{`{"topic":"a","data":"bad \u12G4 escape"}`, false},
	{`{"topic":"a","data":"cut \u12"}`, false},
	{"{\"topic\":\"a\",\"data\":\"raw\ttab\"}", false},
	{"{\"topic\":\"a\",\"data\":\"raw\nnewline\"}", false},
	{`{"topic":"a","data":tru}`, false},
	{`{"topic":"a","data":nul}`, false},
	{`{"topic":"a","data":01}`, false},
	{`{"topic":"a","data":[1,2}`, false},
	{`{"topic":"a","data":{"a":1}}}`, false},
	{`{"topic":"a","data":{"a" 1}}`, false},
	{`{"topic":"a","data":12 34}`, false},
	{`{"topic":"a","data":"x" "y"}`, false},
	{`{"topic":"a" "data":"x"}`, false},
	{`{"topic":"a","data":"x"]`, false},
	{`["topic"]`, false},
	{`[{"topic":"a","data":"x"} {"topic":"a","data":"x"}]`, false},
	{"\ufeff{\"topic\":\"a\",\"data\":\"x\"}", false},
	{`{"topic":"a","data":"x"}` + "\x00", false},
	{`{"topic":"a","data":"x` + `\`, false},
}

// checkScanAgrees checks that, when scanJSONEvents reads a body, it reads
// it as encoding/json does; it reports whether the scanner read it.
func checkScanAgrees(t *testing.T, body []byte, withHub bool) bool {
	t.Helper()
	if !utf8.Valid(body) {
		return false // refused before either parser runs
	}
	events, batch, hubName, ok := scanJSONEvents(body, withHub)
	if !ok {
		return false
	}
	want, wantBatch, wantHub, err := decodeJSONBody(body, withHub)
	if err != nil {
		t.Fatalf("%q (withHub %v): the scanner read what encoding/json refuses: %v", body, withHub, err)
	}
	if batch != wantBatch || hubName != wantHub || len(events) != len(want) {
		t.Fatalf("%q (withHub %v): batch %v hub %q %d events, want batch %v hub %q %d events",
			body, withHub, batch, hubName, len(events), wantBatch, wantHub, len(want))
	}
	for i := range events {
		if !reflect.DeepEqual(*events[i], *want[i]) {
			t.Fatalf("%q (withHub %v): event %d is\n%+v\nwant\n%+v", body, withHub, i, *events[i], *want[i])
		}
	}
	return true
}

func TestScanJSONEventsAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range scanBodies {
		for _, withHub := range []bool{false, true} {
			fast := checkScanAgrees(t, []byte(c.body), withHub)
			wantFast := c.fast || (withHub && strings.Contains(c.body, `"hub"`) && !strings.Contains(c.body, `"g"`) &&
				strings.Count(c.body, `"hub"`) == strings.Count(c.body, `"data"`))
			if fast != wantFast {
				t.Errorf("%q (withHub %v): read by the scanner: %v, want %v", c.body, withHub, fast, wantFast)
			}
		}
	}
}

// TestParseJSONEventsMessages checks that what the scanner gives up on
// still gets encoding/json's answer through parseJSONEvents.
func TestParseJSONEventsMessages(t *testing.T) {
	for _, c := range []struct{ body, msg string }{
		{`[]`, "batch is empty"},
		{`{"topic":"a","data":null}`, "data is missing or empty"},
		{`[{"topic":"a","data":"x"},{"topic":"a"}]`, "event 1: data is missing or empty"},
		{`{"topic":"a","topics":["b"],"data":"x"}`, "give either topic or topics, not both"},
		{`{"topic":"a","event":"e","type":"t","data":"x"}`, "give either event or type, not both"},
		{`{"topic":"a","data":"x","retry":1.5}`, hub.ErrRetry.Error()},
		{`{"topic":"a","data":"x","extra":1}`, `malformed JSON body: json: unknown field "extra"`},
		{`{"topic":"a","data":"x"} {}`, "malformed JSON body: trailing data after the JSON value"},
	} {
		_, _, _, err := parseJSONEvents([]byte(c.body), false)
		if err == nil || err.Error() != c.msg {
			t.Errorf("%s: error %v, want %q", c.body, err, c.msg)
		}
	}
}

func FuzzScanJSONEvents(f *testing.F) {
	for _, c := range scanBodies {
		f.Add([]byte(c.body), false)
		f.Add([]byte(c.body), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, withHub bool) {
		checkScanAgrees(t, body, withHub)
	})
}
