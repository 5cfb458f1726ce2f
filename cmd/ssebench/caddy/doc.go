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

// Command caddy is the Caddy the benchmark suite runs: Caddy v2 with its
// standard modules, the plugin, and the caddynull baseline handler. It is
// the main package xcaddy generates, plus the baseline, which xcaddy cannot
// add from inside the plugin's own module.
package main
