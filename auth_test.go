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
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestExpandGrants(t *testing.T) {
	const userTemplate = "users/{http.auth.user.id}"
	tests := []struct {
		name      string
		vars      map[string]any // placeholders set on the replacer
		templates []string
		want      []string
	}{
		{"user id", map[string]any{"http.auth.user.id": "7"}, []string{userTemplate}, []string{"users/7"}},
		{"user id under a wildcard", map[string]any{"http.auth.user.id": "7"}, []string{"users/{http.auth.user.id}/**"}, []string{"users/7/**"}},
		{"non-string value", map[string]any{"http.auth.user.id": 7}, []string{userTemplate}, []string{"users/7"}},
		{"unicode value", map[string]any{"http.auth.user.id": "José"}, []string{userTemplate}, []string{"users/José"}},
		{"unknown placeholder", nil, []string{userTemplate}, nil},
		{"nil value", map[string]any{"http.auth.user.id": nil}, []string{userTemplate}, nil},
		{"empty value", map[string]any{"http.auth.user.id": ""}, []string{userTemplate}, nil},
		{"value with slash", map[string]any{"http.auth.user.id": "a/b"}, []string{userTemplate}, nil},
		{"value is a slash", map[string]any{"http.auth.user.id": "/"}, []string{userTemplate}, nil},
		{"value is *", map[string]any{"http.auth.user.id": "*"}, []string{userTemplate}, nil},
		{"value is **", map[string]any{"http.auth.user.id": "**"}, []string{userTemplate}, nil},
		{"value with *", map[string]any{"http.auth.user.id": "a*"}, []string{userTemplate}, nil},
		{"value with leading space", map[string]any{"http.auth.user.id": " x"}, []string{userTemplate}, nil},
		{"value is a tab", map[string]any{"http.auth.user.id": "\t"}, []string{userTemplate}, nil},
		{"value with newline", map[string]any{"http.auth.user.id": "x\ny"}, []string{userTemplate}, nil},
		{"value with no-break space", map[string]any{"http.auth.user.id": "x\u00a0"}, []string{userTemplate}, nil},
		{"value with NUL", map[string]any{"http.auth.user.id": "x\x00"}, []string{userTemplate}, nil},
		{"value with invalid UTF-8", map[string]any{"http.auth.user.id": "x\xff"}, []string{userTemplate}, nil},
		{"value making the selector too long", map[string]any{"http.auth.user.id": strings.Repeat("x", 300)}, []string{userTemplate}, nil},
		{"static templates", nil, []string{"public/**", "news", "**"}, []string{"public/**", "news", "**"}},
		{
			"static and templated", map[string]any{"http.auth.user.id": "7"},
			[]string{"public/**", userTemplate, "users/{http.auth.user.id}/**"},
			[]string{"public/**", "users/7", "users/7/**"},
		},
		{
			"static kept when the placeholder grants nothing", nil,
			[]string{"public/**", userTemplate, "users/{http.auth.user.id}/**"},
			[]string{"public/**"},
		},
		{
			"two placeholders", map[string]any{"http.auth.user.id": "7", "http.request.header.X-Org": "acme"},
			[]string{"orgs/{http.request.header.X-Org}/users/{http.auth.user.id}"},
			[]string{"orgs/acme/users/7"},
		},
		{
			"two placeholders, one in a segment with text", map[string]any{"http.auth.user.id": "7", "http.request.header.X-Org": "acme"},
			[]string{"org-{http.request.header.X-Org}/user-{http.auth.user.id}"},
			[]string{"org-acme/user-7"},
		},
		{
			"two placeholders, one unknown", map[string]any{"http.auth.user.id": "7"},
			[]string{"orgs/{http.request.header.X-Org}/users/{http.auth.user.id}"},
			nil,
		},
		{
			"two placeholders, one widening", map[string]any{"http.auth.user.id": "7", "http.request.header.X-Org": "*"},
			[]string{"orgs/{http.request.header.X-Org}/users/{http.auth.user.id}"},
			nil,
		},
		{"no templates", map[string]any{"http.auth.user.id": "7"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repl := caddy.NewReplacer()
			for k, v := range tc.vars {
				repl.Set(k, v)
			}
			got := expandGrants(repl, tc.templates)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("expandGrants(%q) = %q, want %q", tc.templates, got, tc.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		name   string
		grants []string
		sel    string
		want   bool
	}{
		{"exact grant", []string{"orders/7"}, "orders/7", true},
		{"exact grant, other topic", []string{"orders/7"}, "orders/8", false},
		{"exact grant, wildcard asked", []string{"orders/7"}, "orders/*", false},
		{"** grant covers *", []string{"orders/**"}, "orders/*", true},
		{"** grant covers a topic", []string{"orders/**"}, "orders/7", true},
		{"** grant covers **", []string{"orders/**"}, "orders/**", true},
		{"** grant does not cover its parent", []string{"orders/**"}, "orders", false},
		{"* grant does not cover **", []string{"orders/*"}, "orders/**", false},
		{"root grant", []string{"**"}, "a/b/c", true},
		{"root grant covers root", []string{"**"}, "**", true},
		{"no grants", nil, "a", false},
		{"second grant covers", []string{"news/*", "orders/*"}, "orders/7", true},
		{"piecewise **", []string{"a/*", "a/*/**"}, "a/**", true},
		{"piecewise ** from three grants", []string{"a/*", "a/*/*", "a/*/*/**"}, "a/**", true},
		{"piecewise root", []string{"*", "*/**"}, "**", true},
		{"piecewise, one part missing", []string{"a/*"}, "a/**", false},
		{"piecewise, other part missing", []string{"a/*/**"}, "a/**", false},
		{"piecewise, bounded depth", []string{"a/*", "a/*/*", "a/*/*/*"}, "a/**", false},
		{"piecewise, wrong prefix", []string{"b/*", "a/*/**"}, "a/**", false},
		{"piecewise, literal parts", []string{"a/x", "a/*/**"}, "a/**", false},
	}
	for _, tc := range tests {
		if got := allowed(tc.grants, tc.sel); got != tc.want {
			t.Errorf("%s: allowed(%q, %q) = %v, want %v", tc.name, tc.grants, tc.sel, got, tc.want)
		}
	}
}
