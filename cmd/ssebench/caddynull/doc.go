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

// Package caddynull is a benchmark baseline, not a feature: the load
// tool's floor hub (one channel per subscriber, one flush per event)
// served as a Caddy HTTP handler, http.handlers.ssebench_null. Built into
// the same Caddy binary as the plugin, it shows what Caddy itself costs
// per stream, so that the plugin's own share is visible:
//
//	route /events {
//		ssebench_null
//	}
package caddynull
