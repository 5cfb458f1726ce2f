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

// Package caddysse is a Caddy v2 HTTP handler that turns Caddy into a
// Server-Sent Events hub: clients subscribe to topics with a GET, backends
// publish with a POST, and every subscriber of a topic receives each event,
// in order, with Last-Event-ID resume from a bounded history.
//
// This package is the Caddy glue. module.go holds the one init(), the
// handler's options, Provision and ServeHTTP; hub.go the Caddy side of
// hubs (the pool that keeps them across reloads, LookupHub, the Caddy
// events that start, reconfigure and stop them); hubgroup.go the hub
// options a config's handlers of one hub share (inherited when unset,
// a named error when two differ); caddyfile.go the sse directive;
// subscribe.go and publish.go the two sides of a route, publishbody.go
// and jsonscan.go reading a publish body; auth.go, jwt.go, jwks.go and
// cors.go who may do what; transport.go the transport modules' interface
// and the memory transport; admin.go, metrics.go and command.go the admin
// API, Prometheus metrics and the caddy sse command; ui.go the browser
// console and JS client (files under ui/).
//
// The hub itself, in plain Go, is package hub; the Redis transport is
// package redis, a guest module this package links in. This package may
// import both; neither imports it.
package caddysse
