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

// Package ssetest holds what the tests of every package share and that
// needs no Caddy: a WHATWG event-stream parser (parser.go), polling on a
// condition instead of sleeping (poll.go), and the rule that a test which
// cannot run here skips loudly, or fails under SSE_TEST_STRICT=1
// (strict.go). Its subpackage caddytest starts a real Caddy in the test's
// process. Only tests import these packages; this one imports the
// standard library only, so that the hub's tests link no Caddy.
package ssetest
