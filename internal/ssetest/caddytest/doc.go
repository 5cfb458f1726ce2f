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

// Package caddytest starts a real Caddy in the test's process from a
// Caddyfile, on a free loopback port, and talks to it with the clients
// of ssetest. Tests of the plugin's packages that need Caddy import it;
// the hub's unit tests do not. It imports Caddy's standard modules and
// ssetest.
package caddytest
