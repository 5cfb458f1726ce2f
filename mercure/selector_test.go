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

package mercure

import "testing"

func TestSelectorMatch(t *testing.T) {
	tests := []struct {
		sel, topic string
		want       bool
	}{
		{"https://example.com/books/1", "https://example.com/books/1", true},
		{"https://example.com/books/1", "https://example.com/books/2", false},
		{"*", "anything at all", true},
		{"https://example.com/books/{id}", "https://example.com/books/1", true},
		{"https://example.com/books/{id}", "https://example.com/books/1/reviews", false},
		{"https://example.com/books/{id}", "https://example.com/authors/1", false},
		{"https://example.com/users/{user}/books/{id}", "https://example.com/users/dunglas/books/3", true},
		{"https://example.com/{+path}", "https://example.com/books/1/reviews", true},
		{"{", "{", true}, // not a template: equality only
		{"{", "x", false},
		{"foo", "foobar", false},
	}
	for _, tc := range tests {
		if got := Compile(tc.sel).Match(tc.topic); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.sel, tc.topic, got, tc.want)
		}
	}
}

func TestCanReceive(t *testing.T) {
	sub := CompileAll([]string{"https://example.com/books/{id}"})
	claim := CompileAll([]string{"https://example.com/books/1"})
	topics := []string{"https://example.com/books/1"}
	if !CanReceive(sub, nil, topics, false) {
		t.Error("public update not received")
	}
	if CanReceive(sub, nil, topics, true) {
		t.Error("private update received without a claim")
	}
	if !CanReceive(sub, claim, topics, true) {
		t.Error("private update not received with a matching claim")
	}
	if CanReceive(sub, claim, []string{"https://example.com/books/2"}, true) {
		t.Error("private update received with a claim for another topic")
	}
	if CanReceive(CompileAll([]string{"x"}), CompileAll([]string{"*"}), topics, true) {
		t.Error("claimed but not subscribed update received")
	}
}
