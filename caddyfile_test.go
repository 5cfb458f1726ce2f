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
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func cfPtr[T any](v T) *T { return &v }

func TestCaddyfileOptions(t *testing.T) {
	for _, tt := range []struct {
		name  string
		input string
		want  Handler
	}{
		{"bare directive", `sse`, Handler{}},
		{"empty block", "sse {\n}", Handler{}},
		{"hub", "sse {\n\thub orders.v2_x-1\n}", Handler{Hub: "orders.v2_x-1"}},
		{"history", "sse {\n\thistory 50\n}", Handler{History: cfPtr(50)}},
		{"history 0 keeps none", "sse {\n\thistory 0\n}", Handler{History: cfPtr(0)}},
		{"history_age", "sse {\n\thistory_age 1h30m\n}", Handler{HistoryAge: caddy.Duration(90 * time.Minute)}},
		{"history_age in days", "sse {\n\thistory_age 1d\n}", Handler{HistoryAge: caddy.Duration(24 * time.Hour)}},
		{"history_size KiB", "sse {\n\thistory_size 64KiB\n}", Handler{HistorySize: 64 << 10}},
		{"history_size MB", "sse {\n\thistory_size 1MB\n}", Handler{HistorySize: 1_000_000}},
		{"history_size plain bytes", "sse {\n\thistory_size 4096\n}", Handler{HistorySize: 4096}},
		{"max_subscribers", "sse {\n\tmax_subscribers 10000\n}", Handler{MaxSubscribers: 10000}},
		{"max_per_client", "sse {\n\tmax_per_client 3\n}", Handler{MaxPerClient: 3}},
		{"heartbeat", "sse {\n\theartbeat 30s\n}", Handler{Heartbeat: cfPtr(caddy.Duration(30 * time.Second))}},
		{"heartbeat off", "sse {\n\theartbeat off\n}", Handler{Heartbeat: cfPtr(caddy.Duration(0))}},
		{"retry", "sse {\n\tretry 500ms\n}", Handler{Retry: caddy.Duration(500 * time.Millisecond)}},
		{"buffer", "sse {\n\tbuffer 16\n}", Handler{Buffer: 16}},
		{"write_timeout", "sse {\n\twrite_timeout 3s\n}", Handler{WriteTimeout: caddy.Duration(3 * time.Second)}},
		{"max_topics", "sse {\n\tmax_topics 4\n}", Handler{MaxTopics: 4}},
		{"max_event_size", "sse {\n\tmax_event_size 1MiB\n}", Handler{MaxEventSize: 1 << 20}},
		{"max_body_size", "sse {\n\tmax_body_size 2MB\n}", Handler{MaxBodySize: 2_000_000}},
		{"publish on", "sse {\n\tpublish on\n}", Handler{Publish: cfPtr(true)}},
		{"publish off", "sse {\n\tpublish off\n}", Handler{Publish: cfPtr(false)}},
		{"presence", "sse {\n\tpresence\n}", Handler{Presence: true}},
		{"presence_grace", "sse {\n\tpresence\n\tpresence_grace 30s\n}", Handler{Presence: true, PresenceGrace: caddy.Duration(30 * time.Second)}},
		{"presence_grace alone, for occupancy", "sse {\n\tpresence_grace 1ms\n}", Handler{PresenceGrace: caddy.Duration(time.Millisecond)}},
		{"subscribe_allow one", "sse {\n\tsubscribe_allow news\n}", Handler{SubscribeAllow: []string{"news"}}},
		{
			"topics", "sse {\n\ttopics users/{http.auth.user.id}/notifications news\n}",
			Handler{Topics: []string{"users/{http.auth.user.id}/notifications", "news"}},
		},
		{
			"subscribe_allow several", "sse {\n\tsubscribe_allow news news/** users/{http.auth.user.id}\n}",
			Handler{SubscribeAllow: []string{"news", "news/**", "users/{http.auth.user.id}"}},
		},
		{
			"publish_allow several", "sse {\n\tpublish_allow orders/* **\n}",
			Handler{PublishAllow: []string{"orders/*", "**"}},
		},
		{
			"every option",
			`sse {
	hub main
	history 10
	history_age 5m
	history_size 1MiB
	max_subscribers 100
	max_per_client 2
	heartbeat 20s
	retry 3s
	buffer 64
	write_timeout 5s
	max_topics 8
	max_event_size 64KiB
	max_body_size 128KiB
	publish off
	subscribe_allow a a/**
	publish_allow b
}`,
			Handler{
				Hub:            "main",
				History:        cfPtr(10),
				HistoryAge:     caddy.Duration(5 * time.Minute),
				HistorySize:    1 << 20,
				MaxSubscribers: 100,
				MaxPerClient:   2,
				Heartbeat:      cfPtr(caddy.Duration(20 * time.Second)),
				Retry:          caddy.Duration(3 * time.Second),
				Buffer:         64,
				WriteTimeout:   caddy.Duration(5 * time.Second),
				MaxTopics:      8,
				MaxEventSize:   64 << 10,
				MaxBodySize:    128 << 10,
				Publish:        cfPtr(false),
				SubscribeAllow: []string{"a", "a/**"},
				PublishAllow:   []string{"b"},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got Handler
			if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile(%q): %v", tt.input, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("UnmarshalCaddyfile(%q)\n got  %s\n want %s", tt.input, cfJSON(t, got), cfJSON(t, tt.want))
			}
			// The parser's result reaches Caddy as JSON: it must survive the
			// round trip into a fresh instance unchanged.
			var fresh Handler
			if err := json.Unmarshal([]byte(cfJSON(t, got)), &fresh); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fresh, tt.want) {
				t.Fatalf("JSON round trip of %q\n got  %s\n want %s", tt.input, cfJSON(t, fresh), cfJSON(t, tt.want))
			}
		})
	}
}

func cfJSON(t *testing.T, h Handler) string {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCaddyfileErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		input string
		want  string // fragment of the message
		line  int    // line the error must point at
	}{
		{"argument on the directive line", "sse foo {\n\thub a\n}", "wrong argument count", 1},
		{"argument on a bare directive", "sse foo", "wrong argument count", 1},
		{"unknown option", "sse {\n\thub a\n\thistroy 10\n}", `unknown sse option "histroy"`, 3},
		{"unknown option", "sse {\n\tcluster on\n}", `unknown sse option "cluster"`, 2},
		{"duplicate option", "sse {\n\thub a\n\thistory 1\n\thub b\n}", `duplicate option "hub"`, 4},
		{"duplicate list option", "sse {\n\tsubscribe_allow a\n\tsubscribe_allow b\n}", `duplicate option "subscribe_allow"`, 3},
		{"hub without argument", "sse {\n\thub\n}", "wrong argument count", 2},
		{"hub with two arguments", "sse {\n\thub a b\n}", "wrong argument count", 2},
		{"history without argument", "sse {\n\thistory\n}", "wrong argument count", 2},
		{"history with two arguments", "sse {\n\thistory 1 2\n}", "wrong argument count", 2},
		{"retry with two arguments", "sse {\n\tretry 1s 2s\n}", "wrong argument count", 2},
		{"history_size with two arguments", "sse {\n\thistory_size 1 KiB\n}", "wrong argument count", 2},
		{"heartbeat without argument", "sse {\n\theartbeat\n}", "wrong argument count", 2},
		{"publish without argument", "sse {\n\tpublish\n}", "wrong argument count", 2},
		{"publish with two arguments", "sse {\n\tpublish on off\n}", "wrong argument count", 2},
		{"subscribe_allow without argument", "sse {\n\tsubscribe_allow\n}", "wrong argument count", 2},
		{"publish_allow without argument", "sse {\n\tpublish_allow\n}", "wrong argument count", 2},
		{"negative history", "sse {\n\thistory -1\n}", `history: want a non-negative integer, got "-1"`, 2},
		{"non-numeric history", "sse {\n\thistory many\n}", `history: want a non-negative integer, got "many"`, 2},
		{"fractional buffer", "sse {\n\tbuffer 1.5\n}", `buffer: want a non-negative integer, got "1.5"`, 2},
		{"negative max_subscribers", "sse {\n\tmax_subscribers -5\n}", `max_subscribers: want a non-negative integer`, 2},
		{"non-numeric max_per_client", "sse {\n\tmax_per_client two\n}", `max_per_client: want a non-negative integer`, 2},
		{"overflowing max_topics", "sse {\n\tmax_topics 99999999999999999999999\n}", `max_topics: want a non-negative integer`, 2},
		{"buffer 0", "sse {\n\tbuffer 0\n}", `buffer must be more than 0 (leave it out for the default)`, 2},
		{"max_topics 0", "sse {\n\tmax_topics 0\n}", `max_topics must be more than 0`, 2},
		{"write_timeout 0", "sse {\n\twrite_timeout 0s\n}", `write_timeout must be more than 0`, 2},
		{"retry 0", "sse {\n\tretry 0ms\n}", `retry must be more than 0`, 2},
		{"bad duration", "sse {\n\tretry soon\n}", `retry: want a non-negative duration, got "soon"`, 2},
		{"negative duration", "sse {\n\twrite_timeout -1s\n}", `write_timeout: want a non-negative duration, got "-1s"`, 2},
		{"bad history_age", "sse {\n\thistory_age 5x\n}", `history_age: want a non-negative duration, got "5x"`, 2},
		{"bad heartbeat", "sse {\n\theartbeat never\n}", `heartbeat: want a non-negative duration, got "never"`, 2},
		{"bad size", "sse {\n\thistory_size lots\n}", `history_size: want a size such as 64KiB, got "lots"`, 2},
		{"negative size", "sse {\n\tmax_event_size -1KiB\n}", `max_event_size: want a size such as 64KiB`, 2},
		{"bad size unit", "sse {\n\tmax_body_size 4MiBs\n}", `max_body_size: want a size such as 64KiB`, 2},
		{"publish maybe", "sse {\n\tpublish maybe\n}", `publish: want on or off, got "maybe"`, 2},
		{"presence with an argument", "sse {\n\tpresence on\n}", "wrong argument count", 2},
		{"duplicate presence", "sse {\n\tpresence\n\tpresence\n}", `duplicate option "presence"`, 3},
		{"presence_grace without argument", "sse {\n\tpresence_grace\n}", "wrong argument count", 2},
		{"presence_grace 0", "sse {\n\tpresence_grace 0s\n}", `presence_grace must be more than 0`, 2},
		{"negative presence_grace", "sse {\n\tpresence_grace -1s\n}", `presence_grace: want a non-negative duration, got "-1s"`, 2},
		{"bad presence_grace", "sse {\n\tpresence_grace soon\n}", `presence_grace: want a non-negative duration, got "soon"`, 2},
		{"option with a nested block", "sse {\n\thub a {\n\t\tname b\n\t}\n}", `option "hub" takes no block`, 2},
		{"list option with a nested block", "sse {\n\tsubscribe_allow a {\n\t\tb\n\t}\n}", `option "subscribe_allow" takes no block`, 2},
		{"option with an empty block", "sse {\n\thub a {\n\t}\n}", `option "hub" takes no block`, 2},
		{"option with an empty block on its line", "sse {\n\tpublish on { }\n}", `option "publish" takes no block`, 2},
		{"option with only a nested block", "sse {\n\thistory {\n\t\t10\n\t}\n}", "wrong argument count", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil {
				t.Fatalf("UnmarshalCaddyfile(%q): no error, want one containing %q", tt.input, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("UnmarshalCaddyfile(%q): error %q, want it to contain %q", tt.input, msg, tt.want)
			}
			if at := "at Testfile:" + strconv.Itoa(tt.line); !strings.HasSuffix(msg, at) {
				t.Errorf("UnmarshalCaddyfile(%q): error %q does not point at %s", tt.input, msg, at)
			}
		})
	}
}
