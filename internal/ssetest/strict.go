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

package ssetest

import (
	"os"
	"testing"
)

// Strict reports whether a test that cannot run (no Redis, no Chromium)
// must fail instead of skipping; CI sets SSE_TEST_STRICT=1.
func Strict() bool { return os.Getenv("SSE_TEST_STRICT") == "1" }

// SkipOrFail skips the test loudly, or fails it in strict mode.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("SSE_TEST_STRICT=1 and this test cannot run: %s", reason)
	}
	t.Skipf("SKIPPED (set up the missing piece to run it): %s", reason)
}
