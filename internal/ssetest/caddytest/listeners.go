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

package caddytest

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// AwaitSoleListener waits until one config alone listens on port: Caddy's
// count of the listener's users is 1 and, where the kernel's table can be
// read, one socket listens on it (see listeningSockets).
func AwaitSoleListener(port int, within time.Duration) error {
	addr := ":" + strconv.Itoa(port)
	replacedListens := func() bool {
		if caddy.ListenerUsage("tcp", addr) > 1 {
			return true
		}
		n, ok := listeningSockets(port)
		return ok && n > 1
	}
	for deadline := time.Now().Add(within); replacedListens(); {
		if time.Now().After(deadline) {
			return fmt.Errorf("the replaced config still listens on %s after %v", addr, within)
		}
		time.Sleep(time.Millisecond) // polling a condition, not waiting for one
	}
	return nil
}

// listeningSockets counts the kernel's listening TCP sockets on port, or
// returns ok false where /proc/net/tcp cannot be read (not Linux).
//
// On Unix Caddy binds each config's listener with SO_REUSEPORT, so during
// a reload the old and the new config each hold a socket of their own and
// the kernel spreads new connections over both. caddy.ListenerUsage is no
// proof that the old socket is gone: Caddy lowers it just before closing
// the socket, and the old server closes it from a goroutine of its own.
// A connection the kernel queued on the old socket in that window is reset
// when it closes. The kernel's table is the one true answer.
func listeningSockets(port int) (n int, ok bool) {
	hexPort := strings.ToUpper(strconv.FormatInt(int64(port), 16))
	for len(hexPort) < 4 {
		hexPort = "0" + hexPort
	}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			if name == "/proc/net/tcp" {
				return 0, false
			}
			continue // IPv6 off
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st ...; st 0A is LISTEN.
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" {
				continue
			}
			if i := strings.LastIndexByte(fields[1], ':'); i >= 0 && fields[1][i+1:] == hexPort {
				n++
			}
		}
		f.Close()
	}
	return n, true
}
