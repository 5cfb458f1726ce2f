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
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
)

// adminCaddy is a Caddy in this process with its admin endpoint on a free
// loopback port, serving the given sites.
type adminCaddy struct {
	*testCaddy
	Admin string // http://127.0.0.1:<admin port>
}

// startAdminCaddy starts Caddy with its admin endpoint on; {ADMIN} in
// sites is replaced by the admin address, {PORT} by the HTTP port.
func startAdminCaddy(t *testing.T, sites string) *adminCaddy {
	t.Helper()
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return &adminCaddy{testCaddy: startCaddy(t, adminGlobal(t, admin)+sites), Admin: "http://" + admin}
}

func adminGlobal(t *testing.T, admin string) string {
	return "{\n\tadmin " + admin + "\n\tpersist_config off\n\tstorage file_system " + testStorage(t) +
		"\n\tskip_install_trust\n\tlog {\n\t\toutput discard\n\t}\n}\n\n"
}

// Do sends a request to the admin endpoint and returns status, content
// type and body.
func (ac *adminCaddy) Do(method, path, contentType, body string, header ...string) (int, string, string) {
	ac.T.Helper()
	return doRequest(ac.T, method, ac.Admin+path, contentType, body, header...)
}

// GetJSON decodes the answer of a GET to the admin endpoint into v and
// fails the test unless it is a 200.
func (ac *adminCaddy) GetJSON(path string, v any) {
	ac.T.Helper()
	status, _, body := ac.Do(http.MethodGet, path, "", "")
	if status != http.StatusOK {
		ac.T.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		ac.T.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// HubStats returns the admin API's statistics of the named hub.
func (ac *adminCaddy) HubStats(name string) adminHubStats {
	ac.T.Helper()
	var all []adminHubStats
	ac.GetJSON("/sse/hubs", &all)
	for _, st := range all {
		if st.Name == name {
			return st
		}
	}
	ac.T.Fatalf("hub %q not among %+v", name, all)
	return adminHubStats{}
}

const adminSites = `http://127.0.0.1:{PORT} {
	sse /a {
		hub adm
		subscribe_allow **
		publish_allow **
	}
	sse /d {
		subscribe_allow **
		publish_allow **
	}
}
`

// TestAdminPublish publishes through the admin API, as a form and as JSON
// (one event and a batch), to a named hub and to the default hub: each
// event reaches the subscriber of that hub with the id the API returned.
func TestAdminPublish(t *testing.T) {
	ac := startAdminCaddy(t, adminSites)
	a := ac.Subscribe("/a?topic=news")
	d := ac.Subscribe("/d?topic=news")

	status, ctype, id := ac.Do(http.MethodPost, "/sse/publish", contentTypeForm, "hub=adm&topic=news&event=note&data=from+a+form")
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("form publish: %d %s %q", status, ctype, id)
	}
	if ev := a.Next(perEventTimeout); ev.ID != strings.TrimSpace(id) || ev.Type != "note" || ev.Data != "from a form" || ev.Topics[0] != "news" {
		t.Fatalf("got %+v, want the form event %q", ev, id)
	}

	status, _, body := ac.Do(http.MethodPost, "/sse/publish", contentTypeJSON, `{"hub":"adm","topic":"news","data":{"n":1}}`)
	var one struct{ ID string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &one) != nil || one.ID == "" {
		t.Fatalf("JSON publish: %d %s", status, body)
	}
	if ev := a.Next(perEventTimeout); ev.ID != one.ID || ev.Data != `{"n":1}` {
		t.Fatalf("got %+v, want the JSON event %q", ev, one.ID)
	}

	status, _, body = ac.Do(http.MethodPost, "/sse/publish", contentTypeJSON,
		`[{"topic":"news","data":"one"},{"topics":["news","other"],"data":"two"}]`, "Idempotency-Key", "batch-1")
	var batch struct{ IDs []string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &batch) != nil || len(batch.IDs) != 2 {
		t.Fatalf("batch publish to the default hub: %d %s", status, body)
	}
	for i, data := range []string{"one", "two"} {
		if ev := d.Next(perEventTimeout); ev.ID != batch.IDs[i] || ev.Data != data {
			t.Fatalf("default hub got %+v, want %q %q", ev, batch.IDs[i], data)
		}
	}
	// The retry is stored once: same ids, nothing new on the stream.
	_, _, again := ac.Do(http.MethodPost, "/sse/publish", contentTypeJSON,
		`[{"topic":"news","data":"one"},{"topics":["news","other"],"data":"two"}]`, "Idempotency-Key", "batch-1")
	if again != body {
		t.Fatalf("retried batch answered %s, want %s", again, body)
	}
	if st := ac.HubStats("default"); st.Published != 2 {
		t.Fatalf("default hub published %d events, want 2", st.Published)
	}
	if st := ac.HubStats("adm"); st.Published != 2 {
		t.Fatalf("hub adm published %d events, want 2", st.Published)
	}
}

// TestAdminHubStats checks that the statistics agree with what the test
// did: subscribers, topics with subscribers, events published, delivered
// and replayed, history and its oldest and newest ids.
func TestAdminHubStats(t *testing.T) {
	ac := startAdminCaddy(t, adminSites)
	var ids []string
	for k := range 3 {
		ids = append(ids, ac.PublishForm("/a", "topic", "t/1", "data", fmt.Sprint(k)))
	}
	s1 := ac.Subscribe("/a?topic=t/1&replay=2") // 2 replayed
	s2 := ac.Subscribe("/a?topic=t/*")
	for range 2 {
		s1.Next(perEventTimeout)
	}
	ids = append(ids, ac.PublishForm("/a", "topic", "t/1", "data", "live")) // to both
	s1.Next(perEventTimeout)
	s2.Next(perEventTimeout)

	want := hub.Stats{Name: "adm", Subscribers: 2, Topics: 2, Published: 4, Delivered: 4, Replayed: 2,
		HistoryLen: 4, OldestID: ids[0], NewestID: ids[3]}
	var st adminHubStats
	// The server counts a delivery once its write returned, which may be
	// just after the client read it.
	pollUntil(t, 5*time.Second, "the statistics to agree", func() bool {
		st = ac.HubStats("adm")
		got := st.Stats
		got.HistoryBytes = 0
		return got == want
	}, func() string { return fmt.Sprintf("got %+v, want %+v", st.Stats, want) })
	if st.HistoryBytes <= 0 {
		t.Errorf("history_bytes %d", st.HistoryBytes)
	}
	var one adminHubStats
	ac.GetJSON("/sse/hubs/adm", &one)
	if one.Name != "adm" || one.Published != 4 || one.Drops[hub.ReasonSlow] != 0 {
		t.Errorf("GET /sse/hubs/adm: %+v", one)
	}
}

// TestAdminListAndDisconnect lists a hub's subscribers, disconnects one
// with a retry and checks that its client got sse.close with that retry
// while the other stream stays.
func TestAdminListAndDisconnect(t *testing.T) {
	ac := startAdminCaddy(t, adminSites)
	before := time.Now().Add(-time.Second)
	kept := ac.Subscribe("/a?topic=keep")
	gone := ac.Subscribe("/a?topic=x/**&topic=y")

	var subs []hub.SubscriberInfo
	ac.GetJSON("/sse/hubs/adm/subscribers", &subs)
	if len(subs) != 2 {
		t.Fatalf("listed %+v, want 2 subscribers", subs)
	}
	victim := subs[1]
	if strings.Join(victim.Selectors, " ") != "x/** y" || !strings.HasPrefix(victim.Remote, "127.0.0.1:") ||
		victim.Since.Before(before) || victim.Queued != 0 || victim.ID <= subs[0].ID {
		t.Fatalf("subscriber listed as %+v", victim)
	}

	for _, tc := range []struct{ name, query, body string }{
		{"bad retry", "?retry=-5", ""},
		{"bad retry in body", "", `{"retry":"soon"}`},
	} {
		status, _, body := ac.Do(http.MethodDelete, fmt.Sprintf("/sse/hubs/adm/subscribers/%d%s", victim.ID, tc.query), contentTypeJSON, tc.body)
		if status != http.StatusBadRequest || !strings.Contains(body, `"error":"retry must be`) {
			t.Errorf("%s: %d %s", tc.name, status, body)
		}
	}

	status, _, body := ac.Do(http.MethodDelete, fmt.Sprintf("/sse/hubs/adm/subscribers/%d?retry=30s", victim.ID), "", "")
	if status != http.StatusOK || !strings.Contains(body, `"reason":"disconnected"`) {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	evs := gone.End(perEventTimeout)
	if len(evs) != 1 || evs[0].Type != "sse.close" || evs[0].Data != `{"reason":"disconnected"}` || evs[0].Retry != 30000 {
		t.Fatalf("disconnected stream ended with %+v, want sse.close disconnected with retry 30000", evs)
	}

	ac.GetJSON("/sse/hubs/adm/subscribers", &subs)
	if len(subs) != 1 || subs[0].Selectors[0] != "keep" {
		t.Fatalf("after the disconnect: %+v", subs)
	}
	id := ac.PublishForm("/a", "topic", "keep", "data", "still here")
	if ev := kept.Next(perEventTimeout); ev.ID != id {
		t.Fatalf("the other stream got %+v", ev)
	}
	if st := ac.HubStats("adm"); st.Drops[hub.ReasonDisconnected] != 1 || st.Dropped != 1 {
		t.Fatalf("drops %+v", st.Drops)
	}

	// A body may carry the retry too.
	third := ac.Subscribe("/a?topic=z")
	ac.GetJSON("/sse/hubs/adm/subscribers", &subs)
	status, _, body = ac.Do(http.MethodDelete, fmt.Sprintf("/sse/hubs/adm/subscribers/%d", subs[len(subs)-1].ID), contentTypeJSON, `{"retry":1500}`)
	if status != http.StatusOK {
		t.Fatalf("DELETE with a body: %d %s", status, body)
	}
	if evs := third.End(perEventTimeout); len(evs) != 1 || evs[0].Retry != 1500 {
		t.Fatalf("got %+v, want sse.close with retry 1500", evs)
	}
}

// TestAdminNotFound: unknown hubs, subscribers and paths are 404s with a
// JSON error; wrong methods are 405s.
func TestAdminNotFound(t *testing.T) {
	ac := startAdminCaddy(t, adminSites)
	for _, tc := range []struct {
		method, path, ctype, body string
		status                    int
		msg                       string
	}{
		{"POST", "/sse/publish", contentTypeForm, "hub=nope&topic=a&data=x", 404, `hub "nope" not found`},
		{"POST", "/sse/publish", contentTypeJSON, `{"hub":"nope","topic":"a","data":"x"}`, 404, `hub "nope" not found`},
		{"GET", "/sse/hubs/nope", "", "", 404, `hub "nope" not found`},
		{"GET", "/sse/hubs/nope/subscribers", "", "", 404, `hub "nope" not found`},
		{"DELETE", "/sse/hubs/nope/subscribers/1", "", "", 404, `hub "nope" not found`},
		{"DELETE", "/sse/hubs/adm/subscribers/999", "", "", 404, `subscriber 999 not found in hub "adm"`},
		{"DELETE", "/sse/hubs/adm/subscribers/abc", "", "", 404, `subscriber "abc" not found in hub "adm"`},
		{"GET", "/sse/hubs/adm/what", "", "", 404, "no such resource: /sse/hubs/adm/what"},
		{"GET", "/sse/publish", "", "", 405, "method not allowed; use POST"},
		{"POST", "/sse/hubs", "", "", 405, "method not allowed; use GET"},
		{"GET", "/sse/hubs/adm/subscribers/1", "", "", 405, "method not allowed; use DELETE"},
	} {
		status, ctype, body := ac.Do(tc.method, tc.path, tc.ctype, tc.body)
		var e struct{ Error string }
		if status != tc.status || ctype != "application/json" || json.Unmarshal([]byte(body), &e) != nil || e.Error != tc.msg {
			t.Errorf("%s %s %s: %d %s %s; want %d with error %q", tc.method, tc.path, tc.body, status, ctype, body, tc.status, tc.msg)
		}
	}
}

// TestAdminBadBodies sends the same bad publishes to a route and to the
// admin API: the same status and the same message, and nothing stored.
func TestAdminBadBodies(t *testing.T) {
	ac := startAdminCaddy(t, adminSites)
	for _, tc := range []struct {
		name, ctype, body, key string
	}{
		{"no topic", contentTypeForm, "data=x", ""},
		{"no data", contentTypeForm, "topic=a", ""},
		{"wildcard topic", contentTypeForm, "topic=a/*&data=x", ""},
		{"reserved type", contentTypeForm, "topic=a&data=x&event=sse.close", ""},
		{"bad retry", contentTypeForm, "topic=a&data=x&retry=soon", ""},
		{"unknown form field", contentTypeForm, "topic=a&data=x&colour=red", ""},
		{"repeated data", contentTypeForm, "topic=a&data=x&data=y", ""},
		{"malformed JSON", contentTypeJSON, `{"topic":`, ""},
		{"unknown JSON field", contentTypeJSON, `{"topic":"a","data":"x","colour":"red"}`, ""},
		{"empty batch", contentTypeJSON, `[]`, ""},
		{"bad event in a batch", contentTypeJSON, `[{"topic":"a","data":"x"},{"topic":"b","data":"y","event":"a\nb"}]`, ""},
		{"invalid UTF-8", contentTypeJSON, "{\"topic\":\"a\",\"data\":\"\xff\"}", ""},
		{"bad idempotency key", contentTypeForm, "topic=a&data=x", "key with spaces"},
		{"content type", "text/plain", "hello", ""},
		{"event too large", contentTypeForm, "topic=a&data=" + strings.Repeat("x", 1<<20), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.key != "" {
				header = []string{"Idempotency-Key", tc.key}
			}
			routeStatus, routeBody := ac.Post("/a", tc.ctype, tc.body, header...)
			routeMsg := strings.TrimSpace(routeBody)
			var e struct{ Error string }
			if json.Unmarshal([]byte(routeBody), &e) == nil && e.Error != "" {
				routeMsg = e.Error
			}
			status, _, body := ac.Do(http.MethodPost, "/sse/publish", tc.ctype, tc.body, header...)
			e.Error = ""
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("admin answered %d %s: %v", status, body, err)
			}
			if routeStatus/100 != 4 || status != routeStatus || e.Error != routeMsg {
				t.Fatalf("route: %d %q; admin: %d %q; want the same 4xx and message", routeStatus, routeMsg, status, e.Error)
			}
		})
	}
	for _, tc := range []struct{ name, ctype, body, msg string }{
		{"bad hub name", contentTypeForm, "hub=a/b&topic=a&data=x", `hub name "a/b": want 1-64 characters of A-Za-z0-9._-`},
		{"batch naming two hubs", contentTypeJSON, `[{"hub":"adm","topic":"a","data":"x"},{"topic":"a","data":"y"}]`, "event 1: the events of a batch must name the same hub"},
	} {
		status, _, body := ac.Do(http.MethodPost, "/sse/publish", tc.ctype, tc.body)
		var e struct{ Error string }
		if status != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Error != tc.msg {
			t.Errorf("%s: %d %s; want 400 %q", tc.name, status, body, tc.msg)
		}
	}
	// A route does not take a hub field: it publishes to its own hub.
	if status, body := ac.Post("/a", contentTypeForm, "hub=default&topic=a&data=x"); status != http.StatusBadRequest || !strings.Contains(body, `unknown field "hub"`) {
		t.Errorf("route publish with a hub field: %d %s", status, body)
	}
	if st := ac.HubStats("adm"); st.Published != 0 || st.HistoryLen != 0 {
		t.Errorf("bad publishes stored events: %+v", st)
	}
}

// TestLogs checks what the handler logs at DEBUG and WARN: connects and
// disconnects with hub, subscriber id and remote address, a capacity
// rejection at WARN, and never the token a client sent.
func TestLogs(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	global := "{\n\tadmin " + admin + "\n\tpersist_config off\n\tstorage file_system " + testStorage(t) +
		"\n\tskip_install_trust\n\tlog {\n\t\toutput file " + logFile + " {\n\t\t\troll_disabled\n\t\t}\n\t\tformat json\n\t\tlevel DEBUG\n\t}\n}\n\n"
	ac := &adminCaddy{testCaddy: startCaddy(t, global+`http://127.0.0.1:{PORT} {
	sse {
		hub logs
		subscribe_allow **
		max_subscribers 1
	}
}
`), Admin: "http://" + admin}
	const secret = "secret-token-value-that-must-not-be-logged"
	s := ac.Subscribe("/?topic=a&token=" + secret)
	ac.Subscribe("/?topic=a&token=" + secret).End(perEventTimeout) // at capacity
	var subs []hub.SubscriberInfo
	ac.GetJSON("/sse/hubs/logs/subscribers", &subs)
	if status, _, body := ac.Do(http.MethodDelete, fmt.Sprintf("/sse/hubs/logs/subscribers/%d", subs[0].ID), "", ""); status != http.StatusOK {
		t.Fatalf("disconnect: %d %s", status, body)
	}
	s.End(perEventTimeout)

	type entry struct {
		Level, Logger, Msg, Hub, Remote string
		Subscriber                      uint64
	}
	var text string
	find := func(msg string) *entry {
		for _, line := range strings.Split(text, "\n") {
			var e entry
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == msg {
				return &e
			}
		}
		return nil
	}
	pollUntil(t, 5*time.Second, "the disconnect in the log", func() bool {
		b, _ := os.ReadFile(logFile)
		text = string(b)
		return find("subscriber disconnected") != nil
	})
	for _, want := range []struct{ msg, level string }{
		{"subscriber connected", "debug"},
		{"subscriber disconnected", "debug"},
		{"subscriber turned away at capacity", "warn"},
		{"subscriber disconnected by the admin API", "info"},
	} {
		e := find(want.msg)
		if e == nil || e.Level != want.level || e.Hub != "logs" {
			t.Errorf("log entry %q at %s with the hub: got %+v", want.msg, want.level, e)
			continue
		}
		if e.Msg != "subscriber disconnected by the admin API" && !strings.HasPrefix(e.Remote, "127.0.0.1:") {
			t.Errorf("%q lacks the remote address: %+v", want.msg, e)
		}
		if e.Msg != "subscriber turned away at capacity" && e.Subscriber != subs[0].ID {
			t.Errorf("%q lacks the subscriber id %d: %+v", want.msg, subs[0].ID, e)
		}
	}
	if strings.Contains(text, secret) {
		t.Errorf("the log holds the token:\n%s", text)
	}
}
