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
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
	"github.com/caddy-sse/caddy-sse/webhook"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// whSecret is a Standard Webhooks secret, as a receiver's library would
// be given it.
const whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// whRequest is one webhook request as the test receiver saw it.
type whRequest struct {
	id     string
	status int
	events []map[string]any
}

// whReceiver is a backend on loopback that verifies every webhook
// request's signature and answers answer(n) to its nth request; 0 hangs
// until the request is cancelled or the test ends.
type whReceiver struct {
	srv     *httptest.Server
	got     chan whRequest
	release chan struct{}
}

func newWHReceiver(t *testing.T, answer func(n int) int) *whReceiver {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	rc := &whReceiver{got: make(chan whRequest, 100), release: make(chan struct{})}
	var mu sync.Mutex
	n := 0
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if err := ssetest.VerifyWebhook(key, r.Header, body, time.Now()); err != nil {
			t.Errorf("webhook request does not verify: %v", err)
		}
		var payload struct {
			Hub    string           `json:"hub"`
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal(body, &payload); err != nil || payload.Hub == "" {
			t.Errorf("webhook body %s: %v", body, err)
		}
		mu.Lock()
		status := answer(n)
		n++
		mu.Unlock()
		rc.got <- whRequest{id: r.Header.Get("webhook-id"), status: status, events: payload.Events}
		if status == 0 {
			select {
			case <-r.Context().Done():
			case <-rc.release:
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() {
		close(rc.release)
		rc.srv.Close()
	})
	return rc
}

func (rc *whReceiver) next(t *testing.T) whRequest {
	t.Helper()
	select {
	case got := <-rc.got:
		return got
	case <-time.After(itWait):
		t.Fatal("the webhook receiver got no request")
		return whRequest{}
	}
}

// webhookSite is a Caddyfile whose hub sends events to url; none when
// url is empty.
func webhookSite(hubName, url, events string) string {
	if url == "" {
		return "http://127.0.0.1:{PORT} {\n\tsse {\n\t\thub " + hubName + "\n\t\tsubscribe_allow **\n\t}\n}"
	}
	return `http://127.0.0.1:{PORT} {
	sse {
		hub ` + hubName + `
		subscribe_allow **
		publish_allow **
		webhook ` + url + ` {
			secret ` + whSecret + `
			events ` + events + `
			timeout 10s
		}
	}
}`
}

// TestWebhookConnectDisconnect: a stream's connect and disconnect reach
// the backend signed, and a batch the backend answered 500 comes again
// with the same webhook-id.
func TestWebhookConnectDisconnect(t *testing.T) {
	rc := newWHReceiver(t, func(n int) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	tc := startCaddy(t, webhookSite("wh-events", rc.srv.URL+"/hooks", "connect disconnect"))
	s := tc.Subscribe("/?topic=rooms/1&topic=rooms/*")
	waitSubscribers(t, "wh-events", 1)
	s.Close()
	waitSubscribers(t, "wh-events", 0)

	var events []map[string]any
	first := rc.next(t)
	if first.status != http.StatusInternalServerError {
		t.Fatalf("first answer %d", first.status)
	}
	retried := rc.next(t)
	if retried.id != first.id || len(retried.events) != len(first.events) {
		t.Fatalf("after a 500 the receiver got batch %s of %d events; want batch %s again", retried.id, len(retried.events), first.id)
	}
	events = append(events, retried.events...)
	if len(events) < 2 {
		events = append(events, rc.next(t).events...) // the disconnect came after the first batch closed
	}
	if len(events) != 2 {
		t.Fatalf("events %v; want connect and disconnect", events)
	}
	connect, disconnect := events[0], events[1]
	if connect["type"] != "connect" || disconnect["type"] != "disconnect" || disconnect["reason"] != "client_gone" {
		t.Errorf("events %v; want connect, then disconnect with reason client_gone", events)
	}
	for _, ev := range events {
		sels, _ := json.Marshal(ev["selectors"])
		if string(sels) != `["rooms/*","rooms/1"]` || !strings.HasPrefix(ev["remote"].(string), "127.0.0.1:") || ev["identity"] != "" {
			t.Errorf("event %v: want the stream's selectors, remote and empty identity", ev)
		}
		if _, err := time.Parse(time.RFC3339, ev["time"].(string)); err != nil {
			t.Errorf("event time: %v", err)
		}
	}
	ssetest.PollUntil(t, itWait, "delivered counted", func() bool {
		st, _ := poolEntry(t, "wh-events").webhookStats()
		return st == webhook.Stats{Delivered: 2}
	})
	wantWebhookMetrics(t, "wh-events", map[string]float64{"delivered": 2, "dropped": 0, "failed": 0, "queue": 0})
}

// TestWebhookReceiverHangs: a backend that never answers slows neither
// publishing nor streams, and does not hold up Caddy's stop.
func TestWebhookReceiverHangs(t *testing.T) {
	rc := newWHReceiver(t, func(int) int { return 0 })
	tc := startCaddy(t, webhookSite("wh-hang", rc.srv.URL, "connect disconnect"))
	first := tc.Subscribe("/?topic=a")
	waitSubscribers(t, "wh-hang", 1)
	rc.next(t) // the connect batch hangs in the receiver
	for range 20 {
		s := tc.Subscribe("/?topic=a")
		id := tc.PublishForm("/", "topic", "a", "data", "while the backend hangs")
		expectEvent(t, first, id, "message", "while the backend hangs")
		expectEvent(t, s, id, "message", "while the backend hangs")
		s.Close()
	}
	ssetest.PollUntil(t, itWait, "the streams' events queued", func() bool {
		st, _ := poolEntry(t, "wh-hang").webhookStats()
		return st.Queued == 1+2*20 // the hanging connect and each stream's connect and disconnect
	})
}

// TestWebhookReload: a reload that keeps a webhook's configuration keeps
// its sender (and its queue); one that changes it replaces the sender.
func TestWebhookReload(t *testing.T) {
	rc := newWHReceiver(t, func(int) int { return http.StatusOK })
	site := webhookSite("wh-reload", rc.srv.URL, "connect")
	tc := startCaddy(t, site)
	before := *poolEntry(t, "wh-reload").hooks.senders.Load()
	tc.Load(strings.Replace(site, "hub wh-reload", "hub wh-reload\n\t\theartbeat 5s", 1))
	kept := *poolEntry(t, "wh-reload").hooks.senders.Load()
	if len(kept) != 1 || kept[0] != before[0] {
		t.Fatal("a reload with the same webhook replaced its sender")
	}
	tc.Load(webhookSite("wh-reload", rc.srv.URL, "connect disconnect"))
	changed := *poolEntry(t, "wh-reload").hooks.senders.Load()
	if len(changed) != 1 || changed[0] == before[0] || !changed[0].Wants(webhook.Disconnect) {
		t.Fatal("a reload with other events kept the old sender")
	}
	tc.Load(webhookSite("wh-reload", "", ""))
	if p := poolEntry(t, "wh-reload").hooks.senders.Load(); p != nil && len(*p) != 0 {
		t.Fatal("a reload without the webhook kept its sender")
	}
}

// TestWebhookConfigErrors: webhook mistakes are errors of caddy adapt
// with the file and line at fault.
func TestWebhookConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, block, want string }{
		{"unknown event", "webhook https://b.example {\n\t\t\tsecret " + strings.Repeat("k", 24) + "\n\t\t\tevents occupied opened\n\t\t}", `Caddyfile:8`},
		{"short secret", "webhook https://b.example {\n\t\t\tsecret " + strings.Repeat("k", 23) + "\n\t\t}", `Caddyfile:7`},
		{"missing secret", "webhook https://b.example {\n\t\t\tevents connect\n\t\t}", `Caddyfile:6`},
		{"bad url", "webhook https://user:pw@b.example {\n\t\t\tsecret " + strings.Repeat("k", 24) + "\n\t\t}", `Caddyfile:6`},
		{"relative url", "webhook /hooks {\n\t\t\tsecret " + strings.Repeat("k", 24) + "\n\t\t}", `Caddyfile:6`},
		{"join without presence", "webhook https://b.example {\n\t\t\tsecret " + strings.Repeat("k", 24) + "\n\t\t\tevents join\n\t\t}", `Caddyfile:8`},
		{"join with presence after it", "webhook https://b.example {\n\t\t\tsecret " + strings.Repeat("k", 24) + "\n\t\t\tevents join leave\n\t\t}\n\t\tpresence", ""},
		{"same url twice", "webhook https://b.example {\n\t\t\tsecret " + strings.Repeat("k", 24) + "\n\t\t}\n\t\twebhook https://b.example {\n\t\t\tsecret " + strings.Repeat("k", 24) + "\n\t\t}", `Caddyfile:11`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				if _, err := adaptCaddyfile(t, "{\n\tadmin off\n}\n:80 {\n\tsse {\n\t\t"+tc.block+"\n\t}\n}\n"); err != nil {
					t.Fatal(err)
				}
				return
			}
			_, err := adaptCaddyfile(t, "{\n\tadmin off\n}\n:80 {\n\tsse {\n\t\t"+tc.block+"\n\t}\n}\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one at %s", err, tc.want)
			}
			if strings.Contains(err.Error(), strings.Repeat("k", 23)) || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}

// poolEntry returns the pooled hub of that name.
func poolEntry(t *testing.T, name string) *pooledHub {
	t.Helper()
	var ph *pooledHub
	hubs.Range(func(key, val any) bool {
		if key == name {
			ph = val.(*pooledHub)
			return false
		}
		return true
	})
	if ph == nil {
		t.Fatalf("no hub %q in the pool", name)
	}
	return ph
}

// wantWebhookMetrics gathers the metrics and checks the webhook ones of
// hubName: results, and "queue" for the gauge.
func wantWebhookMetrics(t *testing.T, hubName string, want map[string]float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := registerMetrics(reg); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]float64)
	for _, fam := range families {
		for _, m := range fam.GetMetric() {
			labels := make(map[string]string)
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["hub"] != hubName {
				continue
			}
			switch fam.GetName() {
			case "caddy_sse_webhook_events_total":
				got[labels["result"]] = m.GetCounter().GetValue()
			case "caddy_sse_webhook_queue":
				got["queue"] = m.GetGauge().GetValue()
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("webhook metric %s of hub %s = %v; want %v (all: %v)", k, hubName, got[k], v, got)
		}
	}
}

// TestWebhookProvisionErrors: a secret from the environment is checked at
// provision; a config it fails leaves the running one, and its webhook,
// as they were.
func TestWebhookProvisionErrors(t *testing.T) {
	rc := newWHReceiver(t, func(int) int { return http.StatusOK })
	site := webhookSite("wh-provision", rc.srv.URL, "connect")
	tc := startCaddy(t, site)
	running := *poolEntry(t, "wh-provision").hooks.senders.Load()
	short := strings.Repeat("s", 23)
	t.Setenv("SSE_TEST_WH_SECRET", short)
	err := tc.TryLoad(strings.Replace(webhookSite("wh-provision", rc.srv.URL, "connect disconnect"), whSecret, "{env.SSE_TEST_WH_SECRET}", 1))
	if err == nil || !strings.Contains(err.Error(), "secret is 23 bytes; want at least 24") || strings.Contains(err.Error(), short) {
		t.Fatalf("load with a short secret from the environment: %v", err)
	}
	if now := *poolEntry(t, "wh-provision").hooks.senders.Load(); len(now) != 1 || now[0] != running[0] || now[0].Wants(webhook.Disconnect) {
		t.Fatal("a failed load changed the running webhook")
	}
	s := tc.Subscribe("/?topic=a")
	if got := rc.next(t); len(got.events) != 1 || got.events[0]["type"] != "connect" {
		t.Errorf("after the failed load the receiver got %v; want the connect", got.events)
	}
	s.Close()
}

// TestWebhookPresenceEvents: with presence, a user's stream makes the
// topic occupied and the user join; once it closed and the grace passed,
// the user leaves and the topic is vacated; a second stream of the same
// user makes no second join.
func TestWebhookPresenceEvents(t *testing.T) {
	rc := newWHReceiver(t, func(int) int { return http.StatusOK })
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		hub wh-presence
		presence
		presence_grace 50ms
		jwt {
			key `+jwtTestSecret+`
			alg HS256
		}
		webhook `+rc.srv.URL+` {
			secret `+whSecret+`
			events occupied vacated join leave
		}
	}
}`)
	token := hsToken(t, jwt.MapClaims{"sub": "alice", "sse": map[string]any{"subscribe": []string{"rooms/*"}}})
	one := tc.Subscribe("/?topic=rooms/1&token=" + token)
	two := tc.Subscribe("/?topic=rooms/1&token=" + token)
	waitSubscribers(t, "wh-presence", 2)
	one.Close()
	two.Close()
	var got []string
	for len(got) < 4 {
		for _, ev := range rc.next(t).events {
			desc := fmt.Sprint(ev["type"], " ", ev["topic"])
			if ev["type"] == "join" || ev["type"] == "leave" {
				desc += fmt.Sprint(" ", ev["identity"], " ", ev["count"])
			}
			got = append(got, desc)
		}
	}
	want := []string{"occupied rooms/1", "join rooms/1 alice 1", "leave rooms/1 alice 0", "vacated rooms/1"}
	if !slices.Equal(got, want) {
		t.Errorf("webhook events %q; want %q", got, want)
	}
}
