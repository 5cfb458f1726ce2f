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

// Package floor is the bare SSE hub the plugin is measured against: one
// buffered channel per subscriber, one flush per event, a mutex around a
// map of topics. It is deliberately the simplest correct hub. The load
// tool serves it on plain net/http (the floor), and the caddynull module
// serves the very same code inside Caddy, so that the figures separate
// what Caddy costs per stream from what the plugin adds.
package floor
