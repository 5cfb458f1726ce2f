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

import (
	"strings"

	"github.com/yosida95/uritemplate/v3"
)

// Selector is one topic selector of a subscription or of a JWT claim.
type Selector struct {
	raw string
	tpl *uritemplate.Template // nil: matched by equality (or "*")
}

// Compile reads a selector. Every string is a selector: one that is not a
// valid URI template, or holds no expression, matches by equality only.
func Compile(s string) Selector {
	sel := Selector{raw: s}
	if strings.Contains(s, "{") {
		if tpl, err := uritemplate.New(s); err == nil {
			sel.tpl = tpl
		}
	}
	return sel
}

// Match reports whether the selector matches topic: it equals it, is "*",
// or is a URI template that expands to it.
func (s Selector) Match(topic string) bool {
	if s.raw == topic || s.raw == "*" {
		return true
	}
	// The template's regexp is anchored and built once by the library.
	return s.tpl != nil && s.tpl.Regexp().MatchString(topic)
}

// Selectors is a list of selectors; it matches a topic when one of them does.
type Selectors []Selector

// CompileAll compiles each of raw.
func CompileAll(raw []string) Selectors {
	out := make(Selectors, len(raw))
	for i, r := range raw {
		out[i] = Compile(r)
	}
	return out
}

// Match reports whether one of s matches topic.
func (s Selectors) Match(topic string) bool {
	for _, sel := range s {
		if sel.Match(topic) {
			return true
		}
	}
	return false
}

// MatchAny reports whether one of s matches one of topics.
func (s Selectors) MatchAny(topics []string) bool {
	for _, t := range topics {
		if s.Match(t) {
			return true
		}
	}
	return false
}

// MatchAll reports whether each of topics is matched by one of s.
func (s Selectors) MatchAll(topics []string) bool {
	for _, t := range topics {
		if !s.Match(t) {
			return false
		}
	}
	return true
}

// CanReceive reports whether a subscriber that asked for subscribed, and
// whose token grants claimed, receives an update to topics: one of its
// topics must be subscribed to and, for a private update, one of them
// must be both subscribed to and claimed (Mercure 0.x's rule: the claim
// decides which private updates reach a subscriber).
func CanReceive(subscribed, claimed Selectors, topics []string, private bool) bool {
	for _, t := range topics {
		if subscribed.Match(t) && (!private || claimed.Match(t)) {
			return true
		}
	}
	return false
}
