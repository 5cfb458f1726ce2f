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

import "testing"

func TestParseStreamID(t *testing.T) {
	for in, ok := range map[string]bool{
		"0-0": true, "1-0": true, "1795545874004-12": true, "18446744073709551615-18446744073709551615": true,
		"": false, "$": false, "+": false, "-": false, ">": false, "*": false, "0": false, "5-": false,
		"-5": false, "01-1": false, "1-01": false, "+1-1": false, "1-+1": false, "18446744073709551616-0": false,
		"1-2-3": false, "a-1": false, "1-1\x00": false,
	} {
		pos, got := parseStreamID(in)
		if got != ok {
			t.Errorf("parseStreamID(%q) ok = %v, want %v", in, got, ok)
		}
		if ok && formatStreamID(pos) != in {
			t.Errorf("formatStreamID(parseStreamID(%q)) = %q", in, formatStreamID(pos))
		}
	}
}

func TestParsePublishReply(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reply []any
		n     int
		ok    bool
	}{
		{"new", []any{int64(0), "1-0 1-1"}, 2, true},
		{"stored before, other batch size", []any{int64(1), "1-0"}, 2, true},
		{"too few ids", []any{int64(0), "1-0"}, 2, false},
		{"one element", []any{int64(0)}, 1, false},
		{"empty", nil, 1, false},
		{"ids not a string", []any{int64(0), int64(5)}, 1, false},
		{"empty ids", []any{int64(0), ""}, 1, false},
	} {
		if _, _, err := parsePublishReply(tt.reply, tt.n); (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
