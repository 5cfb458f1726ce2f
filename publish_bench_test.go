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
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
)

// benchPublishHandler is a handler as Provision leaves it for a publish,
// with one subscriber on topic whose queue a benchmark drains.
func benchPublishHandler(b *testing.B, topic string) (*Handler, *hub.Subscription) {
	publish := true
	h := &Handler{
		MaxBodySize:  4 << 20,
		MaxEventSize: 1 << 20,
		Publish:      &publish,
		PublishAllow: []string{"**"},
		hub:          hub.New("bench", hub.Settings{History: 1000, HistorySize: 64 << 20}, hub.Options{}),
	}
	b.Cleanup(h.hub.Close)
	sub, err := h.hub.Subscribe(hub.SubscribeRequest{Selectors: []string{topic}, Buffer: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	return h, sub
}

// benchPost runs one publish request through servePublish and checks it
// was accepted.
func benchPost(b *testing.B, h *Handler, contentType string, body []byte) {
	r := httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	w := httptest.NewRecorder()
	if err := h.servePublish(w, r); err != nil || w.Code != http.StatusOK {
		b.Fatalf("publish: %v, status %d: %s", err, w.Code, w.Body)
	}
}

// BenchmarkPublishBatch posts a JSON batch of 1,000 events, shaped like
// ssebench's (a timestamp as data, one topic), through the publish handler
// to a hub with one subscriber: parsing, validation, grants, ids, fan-out
// and the {"ids":[…]} answer. Compare ns/event with BenchmarkPublishSingle.
func BenchmarkPublishBatch(b *testing.B) {
	const n = 1000
	batch := make([]map[string]string, n)
	for i := range batch {
		batch[i] = map[string]string{"topic": "bench", "data": strconv.FormatInt(1764000000000000000+int64(i), 10)}
	}
	body, err := json.Marshal(batch)
	if err != nil {
		b.Fatal(err)
	}
	h, sub := benchPublishHandler(b, "bench")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		benchPost(b, h, contentTypeJSON, body)
		b.StopTimer()
		sub.Take(nil)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
}

// BenchmarkPublishSingle posts one form-encoded event, as ssebench's
// single publishers do.
func BenchmarkPublishSingle(b *testing.B) {
	body := []byte("data=1764000000000000000&topic=bench")
	h, sub := benchPublishHandler(b, "bench")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		benchPost(b, h, contentTypeForm, body)
		if n++; n%32 == 0 { // the stream's writer takes what is queued when woken
			b.StopTimer()
			sub.Take(nil)
			b.StartTimer()
		}
	}
}
