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

import "testing"

// The slow tiers of the suite, which go test -short skips: the unit and
// in-process tiers run in seconds, these need a build, a browser or a
// server process.
const (
	TierProcess = "xcaddy-process" // Caddy built with xcaddy, run as a child process
	TierBrowser = "Chromium"       // a headless browser
	TierRedis   = "redis-server"   // a Redis server
	TierTimeout = "timeouts"       // waits out real write and server timeouts, seconds each
)

// SkipShort skips a test of a slow tier under go test -short. It is not
// a "cannot run here" skip: SSE_TEST_STRICT=1 does not turn it into a
// failure, and the full suite (no -short) runs every tier.
func SkipShort(t testing.TB, tier string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short skips the %s tier", tier)
	}
}
