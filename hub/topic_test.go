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
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// validTopics are concrete topics every check must accept (SPEC §3).
var validTopics = []string{
	"orders",
	"orders/42",
	"users/7/notifications",
	"a/b/c/d/e/f/g/h",
	"users/José/inbox",
	"日本/東京",
	"🎉/party/🎂",
	"flags/🇫🇷",
	"a\uFFFDb", // the replacement character itself is valid UTF-8
	"x-y_z.w~!@$%^&()+=[]{}|;:'\",<>",
	strings.Repeat("a", MaxTopicLen),
	strings.Repeat("é", MaxTopicLen/2), // 256 bytes in 128 runes
}

// badTopicChars are topics and selectors refused for their bytes, with
// the error each must give.
var badTopicChars = []struct {
	name string
	in   string
	want error
}{
	{"empty", "", errTopicEmpty},
	{"257 bytes", strings.Repeat("a", MaxTopicLen+1), errTopicTooLong},
	{"257 bytes of runes", strings.Repeat("é", MaxTopicLen/2) + "a", errTopicTooLong},
	{"space", "a b", errTopicChar},
	{"leading space", " a", errTopicChar},
	{"trailing space", "a ", errTopicChar},
	{"tab", "a\tb", errTopicChar},
	{"newline", "a\nb", errTopicChar},
	{"carriage return", "a\rb", errTopicChar},
	{"vertical tab", "a\vb", errTopicChar},
	{"no-break space", "a\u00a0b", errTopicChar},
	{"line separator", "a\u2028b", errTopicChar},
	{"paragraph separator", "a\u2029b", errTopicChar},
	{"ideographic space", "a\u3000b", errTopicChar},
	{"next line", "a\u0085b", errTopicChar},
	{"NUL", "a\x00b", errTopicChar},
	{"escape", "a\x1bb", errTopicChar},
	{"DEL", "a\x7fb", errTopicChar},
	{"question mark", "news?token=x", errTopicQuery},
	{"hash", "news#top", errTopicQuery},
	{"C1 control", "a\u0090b", errTopicChar},
	{"zero-width space", "a\u200bb", errTopicChar},
	{"byte order mark", "\ufeffa", errTopicChar},
	{"invalid byte", "a\xffb", errTopicUTF8},
	{"truncated sequence", "a\xc3", errTopicUTF8},
	{"overlong slash", "a\xc0\xafb", errTopicUTF8},
	{"surrogate", "a\xed\xa0\x80b", errTopicUTF8},
}

// badSegments are topics and selectors with an empty segment.
var badSegments = []string{"/", "//", "/a", "a/", "a//b", "/a/b", "a/b/", "a///b"}

func TestValidateTopic(t *testing.T) {
	for _, topic := range validTopics {
		if err := ValidateTopic(topic); err != nil {
			t.Errorf("ValidateTopic(%q) = %v, want nil", topic, err)
		}
	}
	for _, tc := range badTopicChars {
		if err := ValidateTopic(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: ValidateTopic(%q) = %v, want %v", tc.name, tc.in, err, tc.want)
		}
	}
	for _, topic := range badSegments {
		if err := ValidateTopic(topic); !errors.Is(err, errTopicSegment) {
			t.Errorf("ValidateTopic(%q) = %v, want %v", topic, err, errTopicSegment)
		}
	}
	// Every selector that is a pattern is refused as a publish topic.
	for _, topic := range []string{"*", "**", "orders/*", "logs/**", "a/*/c", "a*", "*a", "a/b*c"} {
		if err := ValidateTopic(topic); !errors.Is(err, errTopicWildcard) {
			t.Errorf("ValidateTopic(%q) = %v, want %v", topic, err, errTopicWildcard)
		}
	}
}

func TestValidateSelector(t *testing.T) {
	valid := append([]string{
		"*", "**", "orders/*", "logs/**", "a/*/c", "*/*", "*/**", "a/*/**", "*/b/**",
		"users/*/notifications", "🎉/*", "日本/**",
		strings.Repeat("a/", MaxTopicLen/2-1) + "**", // exactly 256 bytes
	}, validTopics...)
	for _, sel := range valid {
		if err := ValidateSelector(sel); err != nil {
			t.Errorf("ValidateSelector(%q) = %v, want nil", sel, err)
		}
	}
	for _, tc := range badTopicChars {
		if err := ValidateSelector(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: ValidateSelector(%q) = %v, want %v", tc.name, tc.in, err, tc.want)
		}
	}
	for _, sel := range append(badSegments, "a//*", "*//**", "/**", "**/") {
		if err := ValidateSelector(sel); !errors.Is(err, errTopicSegment) {
			t.Errorf("ValidateSelector(%q) = %v, want %v", sel, err, errTopicSegment)
		}
	}
	for _, sel := range []string{"a*", "*a", "a*b", "***", "**/x", "**/**", "a/**/b", "a/**/*", "a/b*", "a/*b/c", "orders/4*"} {
		if err := ValidateSelector(sel); !errors.Is(err, errSelectorPattern) {
			t.Errorf("ValidateSelector(%q) = %v, want %v", sel, err, errSelectorPattern)
		}
	}
}

func TestMatchSelector(t *testing.T) {
	tests := []struct {
		sel   string
		topic string
		want  bool
	}{
		{"orders/42", "orders/42", true},
		{"orders/42", "orders/43", false},
		{"orders/42", "orders/4", false},
		{"orders/4", "orders/42", false},
		{"orders", "orders/42", false},
		{"orders/42", "orders", false},
		{"orders/42", "orders/42/x", false},
		{"orders/*", "orders/42", true},
		{"orders/*", "orders", false},
		{"orders/*", "orders/42/x", false},
		{"orders/*", "other/42", false},
		{"*", "a", true},
		{"*", "a/b", false},
		{"*/b", "a/b", true},
		{"*/b", "a/c", false},
		{"a/*/c", "a/b/c", true},
		{"a/*/c", "a/b/d", false},
		{"a/*/c", "a/c", false},
		{"a/*/c", "a/b/x/c", false},
		{"*/*", "a/b", true},
		{"*/*", "a", false},
		{"*/*", "a/b/c", false},
		{"logs/**", "logs/x", true},
		{"logs/**", "logs/x/y/z", true},
		{"logs/**", "logs", false}, // ** needs at least one segment
		{"logs/**", "logsx/y", false},
		{"logs/**", "other/x", false},
		{"**", "a", true},
		{"**", "a/b/c/d", true},
		{"*/**", "a", false},
		{"*/**", "a/b", true},
		{"*/b/**", "a/b/c", true},
		{"*/b/**", "a/b", false},
		{"*/b/**", "a/c/d", false},
		{"🎉/*", "🎉/party", true},
		{"日本/**", "日本/東京/渋谷", true},
	}
	for _, tc := range tests {
		if got := MatchSelector(tc.sel, tc.topic); got != tc.want {
			t.Errorf("MatchSelector(%q, %q) = %v, want %v", tc.sel, tc.topic, got, tc.want)
		}
		if got := refSelectorMatch(tc.sel, tc.topic); got != tc.want {
			t.Errorf("refSelectorMatch(%q, %q) = %v, want %v (the reference is wrong)", tc.sel, tc.topic, got, tc.want)
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		grant string
		sel   string
		want  bool
	}{
		{"orders/**", "orders/*", true},
		{"orders/**", "orders/7", true},
		{"orders/**", "orders/**", true},
		{"orders/**", "orders/7/x", true},
		{"orders/**", "orders/*/x/**", true},
		{"orders/**", "orders", false},
		{"orders/**", "other/7", false},
		{"orders/**", "**", false},
		{"orders/*", "orders/7", true},
		{"orders/*", "orders/*", true},
		{"orders/*", "orders/**", false},
		{"orders/*", "orders/7/x", false},
		{"orders/*", "orders", false},
		{"orders/7", "orders/7", true},
		{"orders/7", "orders/*", false},
		{"orders/7", "orders/8", false},
		{"orders/7", "orders/7/x", false},
		{"*", "a", true},
		{"*", "*", true},
		{"*", "a/b", false},
		{"*", "**", false},
		{"a/*/c", "a/b/c", true},
		{"a/*/c", "a/*/c", true},
		{"a/*/c", "a/**", false},
		{"a/b/c", "a/*/c", false},
		{"*/*", "a/*", true},
		{"*/*", "*/**", false},
		{"*/**", "a/b", true},
		{"*/**", "a", false},
		{"*/**", "**", false},
		{"**", "a", true},
		{"**", "a/b/c", true},
		{"**", "*", true},
		{"**", "*/**", true},
		{"**", "**", true},
		{"a", "a", true},
		{"a", "b", false},
	}
	for _, tc := range tests {
		if got := Covers(tc.grant, tc.sel); got != tc.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tc.grant, tc.sel, got, tc.want)
		}
	}
}

// TestCoversImpliesMatch checks the property authorization rests on: a
// topic matched by a covered selector is matched by the grant itself.
// Selectors and topics come from a small alphabet so that matches are
// frequent; the seed is fixed so that a failure can be replayed.
func TestCoversImpliesMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randSelector := func() string {
		n := 1 + rng.IntN(4)
		segs := make([]string, n)
		for i := range segs {
			segs[i] = []string{"a", "b", "*"}[rng.IntN(3)]
		}
		if rng.IntN(3) == 0 {
			segs[n-1] = "**"
		}
		return strings.Join(segs, "/")
	}
	randTopic := func() string {
		segs := make([]string, 1+rng.IntN(5))
		for i := range segs {
			segs[i] = []string{"a", "b", "c"}[rng.IntN(3)]
		}
		return strings.Join(segs, "/")
	}
	covered := 0
	for range 20000 {
		g, s, topic := randSelector(), randSelector(), randTopic()
		if ValidateSelector(g) != nil || ValidateSelector(s) != nil || ValidateTopic(topic) != nil {
			t.Fatalf("generator made an invalid input: %q %q %q", g, s, topic)
		}
		if !Covers(g, s) {
			continue
		}
		covered++
		if MatchSelector(s, topic) && !MatchSelector(g, topic) {
			t.Fatalf("Covers(%q, %q) but %q matches %q and not %q", g, s, topic, s, g)
		}
		// A concrete topic is covered exactly when the grant matches it.
		if Covers(g, topic) != MatchSelector(g, topic) {
			t.Fatalf("Covers(%q, %q) = %v, MatchSelector = %v", g, topic, Covers(g, topic), MatchSelector(g, topic))
		}
	}
	if covered < 1000 {
		t.Fatalf("only %d covered pairs; the generator no longer exercises covers", covered)
	}
}

// refSelectorMatch is an obviously correct matcher for valid selectors,
// the reference the optimised MatchSelector is checked against.
func refSelectorMatch(sel, topic string) bool {
	s, tp := strings.Split(sel, "/"), strings.Split(topic, "/")
	if s[len(s)-1] == "**" {
		return len(tp) >= len(s) && refSegmentsMatch(s[:len(s)-1], tp[:len(s)-1])
	}
	return len(tp) == len(s) && refSegmentsMatch(s, tp)
}

func refSegmentsMatch(sel, topic []string) bool {
	for i := range sel {
		if sel[i] != "*" && sel[i] != topic[i] {
			return false
		}
	}
	return true
}

// FuzzSelectorMatch checks that validation never panics and that, for a
// valid selector and topic, MatchSelector agrees with the reference.
func FuzzSelectorMatch(f *testing.F) {
	seeds := [][2]string{
		{"orders/42", "orders/42"},
		{"orders/*", "orders/42"},
		{"orders/*", "orders/42/x"},
		{"logs/**", "logs"},
		{"logs/**", "logs/a/b"},
		{"**", "a/b/c"},
		{"*", "a"},
		{"*", "a/b"},
		{"a/*/c", "a/b/c"},
		{"a/*/c", "a/b/c/d"},
		{"*/b/**", "a/b"},
		{"🎉/*", "🎉/party"},
		{"a*", "a"},
		{"**/x", "a/x"},
		{"a/**/b", "a/x/b"},
		{"a//b", "a//b"},
		{"/a", "a/"},
		{"", ""},
		{"a b", "a\tb"},
		{"a\u00a0", "a\u2028"},
		{"\xff", "a\xc3"},
		{strings.Repeat("a", 257), strings.Repeat("a", 256)},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, sel, topic string) {
		selErr := ValidateSelector(sel)
		topicErr := ValidateTopic(topic)
		if topicErr == nil && ValidateSelector(topic) != nil {
			t.Fatalf("topic %q is valid but not as a selector", topic)
		}
		if selErr != nil || topicErr != nil {
			return
		}
		if got, want := MatchSelector(sel, topic), refSelectorMatch(sel, topic); got != want {
			t.Fatalf("MatchSelector(%q, %q) = %v, reference says %v", sel, topic, got, want)
		}
		if got, want := Covers(sel, topic), MatchSelector(sel, topic); got != want {
			t.Fatalf("Covers(%q, %q) = %v, but MatchSelector = %v", sel, topic, got, want)
		}
		if !Covers(sel, sel) {
			t.Fatalf("Covers(%q, %q) = false", sel, sel)
		}
	})
}
