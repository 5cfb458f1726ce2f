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

package hub

import (
	"math/rand/v2"
	"time"
)

// Reason tells why a stream ended, or why a resume could not be
// honoured. Reasons reach clients in the data of sse.close and sse.reset,
// label the drop metric and appear in logs, always as these strings.
type Reason string

// The reasons. The hub ends streams for the first group; the stream's
// writer (the HTTP handler) for the second; the third are resets.
const (
	ReasonSlow         Reason = "slow_consumer" // its queue was full
	ReasonHubClosed    Reason = "hub_closed"    // no handler uses the hub any more
	ReasonDisconnected Reason = "disconnected"  // by an operator, through the admin API
	ReasonCapacity     Reason = "capacity"      // turned away at max_subscribers or max_per_client
	ReasonGap          Reason = "transport_gap" // the log lost events this instance had not read

	ReasonWriteTimeout Reason = "write_timeout" // a write missed write_timeout
	ReasonWriteFailed  Reason = "write_failed"  // a write failed otherwise
	ReasonTokenExpired Reason = "token_expired" // the stream's token expired
	ReasonReload       Reason = "reload"        // the config was reloaded
	ReasonShutdown     Reason = "shutdown"      // the server is stopping
	ReasonClientGone   Reason = "client_gone"   // the client left

	ReasonUnknownID Reason = "unknown_id" // a resume id the log does not know
	ReasonExpiredID Reason = "expired_id" // a resume id older than history
)

// DropReasons are the reasons a hub counts dropped subscribers under, the
// values of the reason label of the drop metric; any other reason is
// counted as ReasonOther.
var DropReasons = []Reason{ReasonSlow, ReasonWriteTimeout, ReasonWriteFailed, ReasonDisconnected,
	ReasonCapacity, ReasonTokenExpired, ReasonHubClosed, ReasonGap, ReasonOther}

// ReasonOther counts drops for a reason outside DropReasons.
const ReasonOther Reason = "other"

// ShortRetry is the reconnection delay sent when the server ends a stream
// its client should resume at once (a reload, a shutdown, a gap): short,
// and jittered, so that clients do not all come back in the same instant.
func ShortRetry() time.Duration {
	return 250*time.Millisecond + rand.N(time.Second)
}
