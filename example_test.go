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

package caddysse_test

import (
	"context"
	"errors"

	caddysse "github.com/caddy-sse/caddy-sse"
	"github.com/caddy-sse/caddy-sse/hub"
)

// Another Caddy module in the same binary publishes to a hub of the
// running config in-process (the README's "Using a hub from Go").
func ExampleLookupHub() {
	notify := func(ctx context.Context, user, data string) error {
		h, ok := caddysse.LookupHub("default") // the hub an sse handler of the running config names
		if !ok {
			return errors.New("no hub named default")
		}
		event := &hub.Event{Type: "notification", Topics: []string{"users/" + user + "/notifications"}, Data: data}
		if err := event.Validate(); err != nil {
			return err
		}
		_, err := h.Publish(ctx, []*hub.Event{event}, "", 0) // ids, as a POST would answer
		return err
	}
	_ = notify(context.Background(), "7", `{"text":"hi"}`)
}
