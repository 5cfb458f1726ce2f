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

// Package redis is the Redis Streams transport of caddy-sse, the Caddy
// module sse.transports.redis: a hub log (hub.Log) kept in a Redis stream
// that every Caddy instance configured with the same hub name, URL and
// key prefix shares. transport.go holds the module, its options and its
// Caddyfile block; log.go appends to the stream; reader.go follows it and
// hands what it reads to the hub; streamid.go parses Redis stream ids,
// which never leave this package except as event ids. An entry holds an
// event's topics (field t), its body (b) and, when its publisher gave it
// an id, that id (i), which every reader puts on the wire in place of the
// entry's own.
//
// It imports the hub package, Caddy and go-redis; nothing imports it but
// the plugin's root package, which links it into every build.
package redis
