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

package caddysse

import (
	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

// Transport is a guest module of the sse.transports namespace: where a
// hub's events are stored and ordered. The memory transport is here; the
// Redis one is its own package (github.com/caddy-sse/caddy-sse/redis).
type Transport interface {
	caddy.Module
	// Identity tells two configurations of the same backing store apart
	// from two different ones: hubs are pooled by name and identity, so a
	// reload that keeps the identity keeps the hub, its log and its
	// connections. The memory transport's is "".
	Identity() string
	// NewLog returns the log of a new hub of that name, or nil for a log
	// in this process's memory. It must not reach the network:
	// provisioning works offline; the hub starts the log when its config
	// has started, or on first use.
	NewLog(hub string, logger *zap.Logger) hub.Log
}

// MemoryTransport keeps a hub's events in the memory of this Caddy
// instance: nothing to install, no sharing between instances. It is the
// default.
type MemoryTransport struct{}

// CaddyModule returns the Caddy module information.
func (MemoryTransport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sse.transports.memory",
		New: func() caddy.Module { return new(MemoryTransport) },
	}
}

// UnmarshalCaddyfile reads "memory", which takes no arguments and no
// block:
//
//	transport memory
func (*MemoryTransport) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the transport's name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(d.Nesting()) {
		return d.Err("transport memory takes no block")
	}
	return nil
}

// Identity implements Transport.
func (MemoryTransport) Identity() string { return "" }

// NewLog implements Transport: the hub keeps its own log.
func (MemoryTransport) NewLog(string, *zap.Logger) hub.Log { return nil }

// Interface guards
var (
	_ Transport             = MemoryTransport{}
	_ caddyfile.Unmarshaler = (*MemoryTransport)(nil)
)
