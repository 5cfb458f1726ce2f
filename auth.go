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
	"errors"
	"strings"
	"unicode"

	"github.com/caddyserver/caddy/v2"
)

// errNoGrant is returned by a placeholder value that must not widen access.
var errNoGrant = errors.New("placeholder value grants nothing")

// expandGrants turns grant templates into the selectors they grant for one
// request. A template whose placeholder is unknown or empty, or whose value
// contains '/', '*' or whitespace, grants nothing: a placeholder can narrow
// a grant to one user's topics but never widen it.
func expandGrants(repl *caddy.Replacer, templates []string) []string {
	var grants []string
	for _, tpl := range templates {
		if !strings.ContainsAny(tpl, "{}") {
			grants = append(grants, tpl) // validated at provision
			continue
		}
		sel, err := repl.ReplaceFunc(tpl, grantValue)
		if err != nil || validateSelector(sel) != nil {
			continue
		}
		grants = append(grants, sel)
	}
	return grants
}

// grantValue vets one placeholder value of a grant template.
func grantValue(_ string, val any) (any, error) {
	if val == nil {
		return nil, errNoGrant
	}
	s := caddy.ToString(val)
	if s == "" || strings.ContainsAny(s, "/*") || strings.ContainsFunc(s, unicode.IsSpace) {
		return nil, errNoGrant
	}
	return s, nil
}

// allowed reports whether every topic sel can match is matched by some
// grant. A single grant usually covers sel on its own; a trailing "**" may
// also be covered piecewise (grants "a/*" and "a/*/**" together cover
// "a/**"), so it is split into "one more segment" and "two or more".
func allowed(grants []string, sel string) bool {
	maxDepth := 0
	for _, g := range grants {
		maxDepth = max(maxDepth, strings.Count(g, "/")+1)
	}
	return allowedDepth(grants, sel, maxDepth)
}

func allowedDepth(grants []string, sel string, maxDepth int) bool {
	for _, g := range grants {
		if covers(g, sel) {
			return true
		}
	}
	prefix, ok := strings.CutSuffix(sel, "**")
	if !ok || strings.Count(sel, "/") >= maxDepth {
		return false
	}
	return allowedDepth(grants, prefix+"*", maxDepth) &&
		allowedDepth(grants, prefix+"*/**", maxDepth)
}
