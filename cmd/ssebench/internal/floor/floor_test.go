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

package floor

import "testing"

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		selector, topic string
		want            bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/*", "a/b", true},
		{"a/*", "a/b/c", false},
		{"a/*", "a", false},
		{"*/7/**", "m/7/42", true},
		{"*/7/**", "m/7", false},
		{"*/7/**", "m/8/42", false},
		{"m/**", "m/1/2/3", true},
		{"**", "x", true},
	} {
		if got := Match(tc.selector, tc.topic); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.selector, tc.topic, got, tc.want)
		}
	}
}
