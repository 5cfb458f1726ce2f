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

package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
)

// outcome is what one attempt came to.
type outcome int

const (
	delivered outcome = iota // 2xx
	retry                    // 408, 429, 5xx, a timeout or a connection error
	refused                  // any other status
)

// deliver sends one batch until it is delivered, refused or 24 h old, or
// the Sender is closed. Nothing else goes out meanwhile, so batches
// arrive in order.
func (s *Sender) deliver(events []Event) {
	body := batchBody(s.hub, events)
	id := newMessageID()
	created := s.clock.Now()
	for attempt := 0; ; attempt++ {
		result, err := s.attempt(id, body)
		switch {
		case result == delivered:
			s.delivered.Add(uint64(len(events)))
			return
		case s.ctx.Err() != nil:
			return // closed: the attempt was cut short
		case result == refused:
			s.failed.Add(uint64(len(events)))
			s.log.Error("webhook batch refused by the receiver; dropped", s.fields(id, len(events), attempt, err)...)
			return
		}
		if age := s.clock.Now().Sub(created); age >= MaxAge {
			s.failed.Add(uint64(len(events)))
			s.log.Error("webhook batch still failing after 24h; dropped", s.fields(id, len(events), attempt, err)...)
			return
		}
		wait := s.jitter(backoff(attempt))
		level := zap.DebugLevel
		if attempt == 0 {
			level = zap.WarnLevel // once per batch: a receiver down for hours must not flood the log
		}
		if ce := s.log.Check(level, "webhook attempt failed; retrying"); ce != nil {
			ce.Write(append(s.fields(id, len(events), attempt, err), zap.Duration("retry_in", wait))...)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.clock.After(wait):
		}
	}
}

func (s *Sender) fields(id string, events, attempt int, err error) []zap.Field {
	return []zap.Field{zap.String("hub", s.hub), zap.String("url", s.logURL), zap.String("webhook_id", id),
		zap.Int("events", events), zap.Int("attempt", attempt+1), zap.Error(err)}
}

// attempt posts the batch once, signed with this attempt's timestamp.
func (s *Sender) attempt(id string, body []byte) (outcome, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return refused, err // the URL was checked at provision; not reached
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "caddy-sse-webhook")
	sign(req.Header, s.secret, id, s.clock.Now(), body)
	resp, err := s.client.Do(req)
	if err != nil {
		return retry, err
	}
	// Read a little of the body so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return delivered, nil
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return retry, fmt.Errorf("status %d", code)
	default:
		return refused, fmt.Errorf("status %d", code)
	}
}

// backoff is the wait before retry attempt+1: 0.5 s, doubling, at most
// 60 s.
func backoff(attempt int) time.Duration {
	d := firstBackoff
	for range attempt {
		if d *= 2; d >= maxBackoff {
			return maxBackoff
		}
	}
	return d
}

// equalJitter waits between half of d and d, so that the senders of
// many instances retrying one receiver spread out.
func equalJitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// stripQuery returns rawURL without its query and fragment, for logs.
func stripQuery(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}
