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

// Package redistest finds a Redis for a test, or starts a redis-server of
// the test's own, and gives each test key prefixes and hub names of its
// own, so that tests and test runs sharing one Redis never see each
// other's streams. It imports go-redis and ssetest, nothing of Caddy.
package redistest
