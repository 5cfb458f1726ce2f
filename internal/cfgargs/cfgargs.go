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

package cfgargs

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// One reads the one argument of the current option.
func One(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.ArgErr()
	}
	return args[0], nil
}

// List reads the arguments of the current option: at least one.
func List(d *caddyfile.Dispenser) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return args, nil
}

// Int reads the option's one argument as a non-negative integer.
func Int(d *caddyfile.Dispenser) (int, error) {
	opt := d.Val()
	val, err := One(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < 0 {
		return 0, d.Errf("%s: want a non-negative integer, got %q", opt, val)
	}
	return n, nil
}

// Duration reads the option's one argument as a non-negative Caddy duration.
func Duration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	opt := d.Val()
	val, err := One(d)
	if err != nil {
		return 0, err
	}
	return ParseDuration(d, opt, val)
}

// ParseDuration parses val, the argument of option opt, as a non-negative
// Caddy duration.
func ParseDuration(d *caddyfile.Dispenser, opt, val string) (caddy.Duration, error) {
	dur, err := caddy.ParseDuration(val)
	if err != nil || dur < 0 {
		return 0, d.Errf("%s: want a non-negative duration, got %q", opt, val)
	}
	return caddy.Duration(dur), nil
}

// Size reads the option's one argument as a size in bytes, such as 64KiB.
func Size(d *caddyfile.Dispenser) (int64, error) {
	opt := d.Val()
	val, err := One(d)
	if err != nil {
		return 0, err
	}
	size, err := humanize.ParseBytes(val)
	if err != nil || size > 1<<50 {
		return 0, d.Errf("%s: want a size such as 64KiB, got %q", opt, val)
	}
	return int64(size), nil
}

// NoBlock fails when the option just read opens a block, an empty one
// ("{ }") included; what names the option in the message, which points at
// the option's line.
func NoBlock(d *caddyfile.Dispenser, what string) error {
	err := d.Errf("%s takes no block", what)
	if val, line := d.Val(), d.Line(); d.NextBlock(d.Nesting()) || d.Val() != val || d.Line() != line {
		return err
	}
	return nil
}
