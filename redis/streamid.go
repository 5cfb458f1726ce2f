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

package redis

import (
	"strconv"
	"strings"

	"github.com/caddy-sse/caddy-sse/hub"
)

// A Redis stream id, <milliseconds>-<sequence>, is the position of its
// entry: Major is the milliseconds, Minor the sequence.

// parseStreamID accepts only a complete id in canonical form: Redis's
// special ids ($, +, -, >, *) and shorthands ("5", "5-") are refused, so a
// client's Last-Event-ID is never passed through as one.
func parseStreamID(s string) (hub.Position, bool) {
	if len(s) > 41 {
		return hub.Position{}, false
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return hub.Position{}, false
	}
	ms, ok1 := parseCanonicalUint(a)
	seq, ok2 := parseCanonicalUint(b)
	return hub.Position{Major: ms, Minor: seq}, ok1 && ok2
}

func parseCanonicalUint(s string) (uint64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// formatStreamID is the stream id of a position.
func formatStreamID(p hub.Position) string {
	return strconv.FormatUint(p.Major, 10) + "-" + strconv.FormatUint(p.Minor, 10)
}
