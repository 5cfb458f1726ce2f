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
	"strings"
	"testing"
)

func TestIDCipher(t *testing.T) {
	c, err := NewIDCipher(NewIDKey())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewIDCipher(NewIDKey())
	seen := make(map[string]bool)
	for _, pos := range []Position{{}, {0, 1}, {0, 2}, {1, 0}, {1796400052130, 7}, {^uint64(0), ^uint64(0)}} {
		id := c.ID(pos)
		if len(id) != IDLen || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("id %q of %v: want %d characters of base64url", id, pos, IDLen)
		}
		if seen[id] {
			t.Fatalf("id %q given twice", id)
		}
		seen[id] = true
		if got, ok := c.Position(id); !ok || got != pos {
			t.Fatalf("Position(ID(%v)) = %v, %v", pos, got, ok)
		}
		if got, _ := other.Position(id); got == pos {
			t.Fatalf("another key reads %q as %v too", id, pos)
		}
		if string(c.AppendID([]byte("x"), pos)) != "x"+id {
			t.Fatalf("AppendID does not append ID")
		}
	}
	// Consecutive positions give ids with nothing in common to read.
	if a, b := c.ID(Position{0, 1}), c.ID(Position{0, 2}); a[:8] == b[:8] {
		t.Fatalf("ids of consecutive positions share a prefix: %q %q", a, b)
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", IDLen-1), strings.Repeat("A", IDLen+1),
		strings.Repeat("+", IDLen), strings.Repeat("A", IDLen-1) + "B", strings.Repeat("A", IDLen-2) + "=="} {
		if _, ok := c.Position(bad); ok {
			t.Errorf("Position(%q) accepted", bad)
		}
	}
	if _, err := NewIDCipher([]byte("short")); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}
