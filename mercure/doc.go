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

// Package mercure holds the protocol-only parts of the Mercure 0.x
// compatibility (SPEC §14): topic selectors (exact, "*", or RFC 6570 URI
// templates) and the claims of Mercure JWTs. It knows nothing of Caddy or
// of the hub; the root package wires it to both.
//
// It is written from the protocol's public documents; no code comes from
// the Mercure hub.
package mercure
