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

// Package webhook tells a backend what happens in a hub: it sends events
// (a topic occupied or vacated, a member joining or leaving, a stream
// connecting or disconnecting) to a configured URL, in batches signed as
// Standard Webhooks (https://www.standardwebhooks.com) do.
//
// A Sender (sender.go) never blocks the hub: Enqueue puts an event in a
// bounded queue and returns, dropping the oldest event when the queue is
// full. One goroutine per Sender gathers batches and posts them in order,
// retrying a failed batch with backoff before any later one goes out
// (deliver.go). Events and their JSON are in event.go, the signature in
// sign.go, and the configuration with its Caddyfile block in config.go.
//
// The sending side uses the standard library and zap only; the
// configuration reads Caddy's Caddyfile tokens and placeholders, so that
// the sse directive can parse a webhook block with file:line in its errors.
package webhook
