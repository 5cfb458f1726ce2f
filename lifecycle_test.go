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

// Lifecycle tests: a real Caddy in this process, loaded, reloaded and
// stopped, checking that hubs are shared, kept, released and left alone
// exactly as SPEC §2 and §7 say.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
	"github.com/caddyserver/caddy/v2"
)

// lcWait bounds every wait for something the server does at once.
const lcWait = 5 * time.Second

// lcPoolKeys returns the names of the hubs in the pool, sorted.
func lcPoolKeys() []string {
	var keys []string
	hubs.Range(func(key, _ any) bool {
		keys = append(keys, fmt.Sprint(key))
		return true
	})
	slices.Sort(keys)
	return keys
}

// lcPoolSize is the number of hubs in the pool.
func lcPoolSize() int { return len(lcPoolKeys()) }

// lcRefs is how many handlers hold the named hub.
func lcRefs(name string) int {
	n, _ := hubs.References(name)
	return n
}

// lcExpectPool fails unless the pool holds exactly these hubs, each with
// the given number of references.
func lcExpectPool(t *testing.T, refs map[string]int) {
	t.Helper()
	var want []string
	for name, n := range refs {
		want = append(want, name)
		if got := lcRefs(name); got != n {
			t.Errorf("hub %q has %d references, want %d", name, got, n)
		}
	}
	slices.Sort(want)
	if got := lcPoolKeys(); !slices.Equal(got, want) {
		t.Errorf("pool holds hubs %q, want %q", got, want)
	}
}

// lcStop stops Caddy and checks that every hub was given back.
func lcStop(t *testing.T) {
	t.Helper()
	if err := caddy.Stop(); err != nil {
		t.Fatalf("stopping caddy: %v", err)
	}
	if keys := lcPoolKeys(); len(keys) != 0 {
		t.Fatalf("hubs left in the pool after caddy.Stop: %q", keys)
	}
}

// lcReplay opens a subscription asking for the last events of history,
// publishes a marker event that ends the replay, and returns the replayed
// events. Replay comes before any live event, so the marker is the first
// live one.
func lcReplay(t *testing.T, tc *testCaddy, path, topic string) []parsedEvent {
	t.Helper()
	s := lcSubscribe(t, tc, path+"?topic="+topic+"&topic=lc-marker&replay=1000")
	marker := lcPublish(t, tc, path, "topic", "lc-marker", "data", "marker")
	var evs []parsedEvent
	for {
		ev := s.Next(lcWait)
		if ev.ID == marker {
			s.Close()
			return evs
		}
		if slices.Contains(ev.Topics, "lc-marker") {
			continue // an earlier marker replayed from history
		}
		evs = append(evs, ev)
	}
}

// lcData returns the data fields of events.
func lcData(evs []parsedEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Data
	}
	return out
}

// lcSeq returns the hub that gave an id, by name, and the number it gave
// the event.
func lcSeq(t *testing.T, id string) (hubName string, seq uint64) {
	t.Helper()
	h, n := eventPos(t, id)
	return h.Name(), n
}

// lcClient opens a connection per request and retries one that got no
// response. A reload hands the shared listener to the new servers while
// the old ones shut down in the background; a connection an old server
// accepted at that moment is closed unanswered (net/http drops requests
// read after Shutdown began), which is Caddy's reload and no concern of
// these tests. Publishes carry an Idempotency-Key, so a retry can never
// store an event twice.
var lcClient = &http.Client{Transport: lcRetrying{&http.Transport{DisableKeepAlives: true}}}

type lcRetrying struct{ base http.RoundTripper }

func (rt lcRetrying) RoundTrip(req *http.Request) (*http.Response, error) {
	retryable := req.Method == http.MethodGet || req.Header.Get("Idempotency-Key") != ""
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := rt.base.RoundTrip(r)
		if err == nil || !retryable || attempt == 20 || req.Context().Err() != nil {
			return resp, err
		}
	}
}

var lcKeys atomic.Uint64

// lcPublish publishes a form event through lcClient, fails the test
// unless it gets a 200, and returns the event id.
func lcPublish(t *testing.T, tc *testCaddy, path string, fields ...string) string {
	t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Add(fields[i], fields[i+1])
	}
	req, err := http.NewRequest(http.MethodPost, tc.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("lc-%d-%d", time.Now().UnixNano(), lcKeys.Add(1)))
	resp, err := lcClient.Do(req)
	if err != nil {
		t.Fatalf("publish %v: %v", fields, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("publish %v: status %d: %s (%v)", fields, resp.StatusCode, body, err)
	}
	return strings.TrimSpace(string(body))
}

// lcReload loads a new config and waits until the old servers have let
// go of the shared listener. caddy.Load returns while they still shut
// down in the background, and until then an old server may accept a new
// connection and answer it with the old config.
func lcReload(t *testing.T, tc *testCaddy, caddyfile string) {
	t.Helper()
	tc.Load(caddyfile)
	lcOldServersGone(t, tc)
}

// lcOldServersGone waits until only the running config listens: not
// just Caddy's count of the listener's users, which drops before the old
// socket closes, but the kernel's sockets (caddytest.AwaitSoleListener).
func lcOldServersGone(t *testing.T, tc *testCaddy) {
	t.Helper()
	if err := caddytest.AwaitSoleListener(tc.Port, lcWait); err != nil {
		t.Fatal(err)
	}
	if n := caddy.ListenerUsage("tcp", ":"+strconv.Itoa(tc.Port)); n != 1 {
		t.Fatalf("%d users of listener :%d: the check above watched the wrong address", n, tc.Port)
	}
}

// lcSubscribe opens a stream through lcClient.
func lcSubscribe(t *testing.T, tc *testCaddy, path string, header ...string) *sseStream {
	t.Helper()
	return subscribeWith(t, lcClient, tc.URL+path, header...)
}

// lcSite is a site with one sse route per path, each with the given
// options plus grants for everything.
func lcSite(routes ...string) string {
	var b strings.Builder
	b.WriteString("http://127.0.0.1:{PORT} {\n")
	for i := 0; i+1 < len(routes); i += 2 {
		path, opts := routes[i], routes[i+1]
		fmt.Fprintf(&b, "\troute %s {\n\t\tsse {\n", path)
		for _, opt := range strings.Split(opts, ";") {
			if opt = strings.TrimSpace(opt); opt != "" {
				fmt.Fprintf(&b, "\t\t\t%s\n", opt)
			}
		}
		b.WriteString("\t\t\tsubscribe_allow **\n\t\t\tpublish_allow **\n\t\t}\n\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// TestLifecycleHubDisagreement: handlers of one config naming one hub
// must not set a hub option to two values; when they agree, they share
// the hub. (An option left unset inherits: hubgroup_test.go.)
func TestLifecycleHubDisagreement(t *testing.T) {
	tc := startCaddy(t, lcSite("/before", "hub lc-before"))
	for _, tt := range []struct{ a, b, want string }{
		{"history 10", "history 20", "history: 10 at Caddyfile:"},
		{"history_age 1m", "history_age 2m", "history_age: 1m0s at Caddyfile:"},
		{"history_size 1MiB", "history_size 2MiB", "history_size: 1.0 MiB at Caddyfile:"},
		{"max_subscribers 5", "max_subscribers 6", "max_subscribers: 5 at Caddyfile:"},
	} {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			err := tc.TryLoad(lcSite("/a", "hub lc-agree; "+tt.a, "/b", "hub lc-agree; "+tt.b))
			if err == nil {
				t.Fatal("config with disagreeing handlers loaded; want an error")
			}
			if msg := err.Error(); !strings.Contains(msg, `hub "lc-agree"`) || !strings.Contains(msg, "disagree") || !strings.Contains(msg, tt.want) {
				t.Fatalf("load error %q does not say that handlers disagree on hub \"lc-agree\" (%s…)", msg, tt.want)
			}
			lcExpectPool(t, map[string]int{"lc-before": 1})
			// The previous config still runs.
			if got := lcData(lcReplay(t, tc, "/before", "x")); len(got) != 0 {
				t.Fatalf("replay on the previous config: %q, want nothing", got)
			}
		})
	}

	t.Run("agreeing handlers share the hub", func(t *testing.T) {
		opts := "hub lc-agree; history 10; history_age 1m; history_size 1MiB; max_subscribers 5"
		lcReload(t, tc, lcSite("/a", opts, "/b", opts+"; heartbeat 1s; retry 1s; buffer 8"))
		lcExpectPool(t, map[string]int{"lc-agree": 2})
		s := lcSubscribe(t, tc, "/b?topic=x")
		id := lcPublish(t, tc, "/a", "topic", "x", "data", "from a")
		if ev := s.Next(lcWait); ev.ID != id || ev.Data != "from a" {
			t.Fatalf("subscriber on /b got %+v, want id %s data \"from a\" published on /a", ev, id)
		}
		id = lcPublish(t, tc, "/b", "topic", "x", "data", "from b")
		if got := lcData(lcReplay(t, tc, "/a", "x")); !slices.Equal(got, []string{"from a", "from b"}) {
			t.Fatalf("replay on /a: %q, want both events", got)
		}
		if ev := s.Next(lcWait); ev.ID != id {
			t.Fatalf("subscriber on /b got %+v, want id %s", ev, id)
		}
	})

	lcStop(t)
}

// TestLifecycleReloadKeepsHub: a reload keeps the hub's history and ids,
// and applies the new hub settings.
func TestLifecycleReloadKeepsHub(t *testing.T) {
	tc := startCaddy(t, lcSite("/", "hub lc-reload; history 5"))
	id1 := lcPublish(t, tc, "/", "topic", "x", "data", "one")
	hb := pooledHubNamed(t, "lc-reload")

	lcReload(t, tc, lcSite("/", "hub lc-reload; history 3; retry 1s"))
	lcExpectPool(t, map[string]int{"lc-reload": 1})
	if pooledHubNamed(t, "lc-reload") != hb {
		t.Fatal("the reload replaced the hub instead of keeping it")
	}
	if got := hb.Settings().History; got != 3 {
		t.Fatalf("hub history setting after reload: %d, want 3", got)
	}
	id2 := lcPublish(t, tc, "/", "topic", "x", "data", "two")
	epoch1, seq1 := lcSeq(t, id1)
	epoch2, seq2 := lcSeq(t, id2)
	if epoch1 != epoch2 || seq2 <= seq1 {
		t.Fatalf("ids across the reload: %s then %s; want the same hub prefix and a larger sequence", id1, id2)
	}

	evs := lcReplay(t, tc, "/", "x")
	if len(evs) != 2 || evs[0].ID != id1 || evs[0].Data != "one" || evs[1].ID != id2 || evs[1].Data != "two" {
		t.Fatalf("replay after reload: %+v, want [%s one] [%s two]", evs, id1, id2)
	}

	// The new history value takes effect at once: history 1 keeps only
	// the newest event.
	lcReload(t, tc, lcSite("/", "hub lc-reload; history 1"))
	if got := hb.Settings().History; got != 1 {
		t.Fatalf("hub history setting after second reload: %d, want 1", got)
	}
	if st := hb.Stats(); st.HistoryLen > 1 {
		t.Fatalf("history holds %d events after reload to history 1", st.HistoryLen)
	}
	lcPublish(t, tc, "/", "topic", "x", "data", "three")
	id4 := lcPublish(t, tc, "/", "topic", "x", "data", "four")
	s := lcSubscribe(t, tc, "/?topic=x&replay=10")
	if ev := s.Next(lcWait); ev.ID != id4 || ev.Data != "four" {
		t.Fatalf("replay=10 with history 1: first event %+v, want [%s four]", ev, id4)
	}
	id5 := lcPublish(t, tc, "/", "topic", "x", "data", "five")
	if ev := s.Next(lcWait); ev.ID != id5 {
		t.Fatalf("replay=10 with history 1 returned more than one event: next %+v, want live %s", ev, id5)
	}
	s.Close()
	lcStop(t)
}

// TestLifecycleReloadEndsStreams: an open stream ends promptly at reload
// with sse.close (reason reload, short retry), and resuming with its last
// id on the new config gets exactly the events it missed.
func TestLifecycleReloadEndsStreams(t *testing.T) {
	tc := startCaddy(t, lcSite("/", "hub lc-streams"))
	s := lcSubscribe(t, tc, "/?topic=x")
	id1 := lcPublish(t, tc, "/", "topic", "x", "data", "one")
	if ev := s.Next(lcWait); ev.ID != id1 {
		t.Fatalf("got %+v, want %s", ev, id1)
	}

	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		if err := tc.TryLoad(lcSite("/", "hub lc-streams; history 100")); err != nil {
			t.Errorf("reload: %v", err)
		}
	}()
	closeEv := s.Next(lcWait)
	if closeEv.Type != "sse.close" {
		t.Fatalf("at reload the stream got %+v, want sse.close", closeEv)
	}
	var data struct{ Reason string }
	if err := json.Unmarshal([]byte(closeEv.Data), &data); err != nil || data.Reason != "reload" {
		t.Fatalf("sse.close data %q, want JSON with reason \"reload\" (%v)", closeEv.Data, err)
	}
	if closeEv.Retry < 250 || closeEv.Retry > 1250 {
		t.Fatalf("sse.close retry %d ms, want 250..1250", closeEv.Retry)
	}
	if closeEv.ID != id1 {
		t.Fatalf("after sse.close the last event id is %q, want %q: sse.close must not carry an id", closeEv.ID, id1)
	}
	if rest := s.End(lcWait); len(rest) != 0 {
		t.Fatalf("events after sse.close: %+v", rest)
	}
	select {
	case <-reloaded:
	case <-time.After(lcWait):
		t.Fatal("reload did not finish")
	}
	lcOldServersGone(t, tc)

	// Events published while the client was away, then the resume.
	id2 := lcPublish(t, tc, "/", "topic", "x", "data", "two")
	lcPublish(t, tc, "/", "topic", "y", "data", "other topic")
	id3 := lcPublish(t, tc, "/", "topic", "x", "data", "three")
	r := lcSubscribe(t, tc, "/?topic=x", "Last-Event-ID", closeEv.ID)
	for _, want := range []string{id2, id3} {
		if ev := r.Next(lcWait); ev.ID != want || ev.Type != "message" {
			t.Fatalf("resume got %+v, want event %s", ev, want)
		}
	}
	id4 := lcPublish(t, tc, "/", "topic", "x", "data", "four")
	if ev := r.Next(lcWait); ev.ID != id4 {
		t.Fatalf("after the replay got %+v, want the live event %s (no duplicate)", ev, id4)
	}
	r.Close()
	lcStop(t)
}

// TestLifecyclePoolBalance: every hub a config takes is given back when
// Caddy stops, when a reload replaces the config, and when a load fails;
// a failed load leaves the running config and its hubs as they were.
func TestLifecyclePoolBalance(t *testing.T) {
	if keys := lcPoolKeys(); len(keys) != 0 {
		t.Fatalf("pool not empty at start: %q", keys)
	}
	good := lcSite("/a", "hub lc-pool-a; history 5", "/a2", "hub lc-pool-a; history 5", "/b", "hub lc-pool-b")
	tc := startCaddy(t, good)
	lcExpectPool(t, map[string]int{"lc-pool-a": 2, "lc-pool-b": 1})
	for _, data := range []string{"one", "two", "three"} {
		lcPublish(t, tc, "/a", "topic", "x", "data", data)
	}

	// A negative value, as only JSON can say it.
	cfgJSON, err := adaptCaddyfile(t, strings.ReplaceAll(
		lcSite("/a", "hub lc-pool-a; history 7", "/c", "hub lc-pool-c; history 1"), "{PORT}", strconv.Itoa(tc.Port)))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(cfgJSON), `"history":1,`, `"history":-1,`, 1)
	if bad == string(cfgJSON) {
		t.Fatalf("adapted config has no \"history\":1 to make negative: %s", cfgJSON)
	}
	err = caddy.Load([]byte(bad), true)
	if err == nil || !strings.Contains(err.Error(), "history must not be negative") {
		t.Fatalf("loading a negative history: error %v, want \"history must not be negative\"", err)
	}
	lcExpectPool(t, map[string]int{"lc-pool-a": 2, "lc-pool-b": 1})

	// Handlers that disagree, after one of them took the running hub.
	err = tc.TryLoad(lcSite("/a", "hub lc-pool-a; history 1", "/a2", "hub lc-pool-a; history 2", "/d", "hub lc-pool-d"))
	if err == nil {
		t.Fatal("config with disagreeing handlers loaded")
	}
	lcExpectPool(t, map[string]int{"lc-pool-a": 2, "lc-pool-b": 1})

	// The previous config still serves, with its settings and history.
	if got := pooledHubNamed(t, "lc-pool-a").Settings().History; got != 5 {
		t.Errorf("running hub's history setting after failed loads: %d, want 5", got)
	}
	if got := lcData(lcReplay(t, tc, "/a2", "x")); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Errorf("replay after failed loads: %q, want [one two three]", got)
	}

	// A reload that drops a hub and adds one.
	lcReload(t, tc, lcSite("/a", "hub lc-pool-a; history 5", "/c", "hub lc-pool-c"))
	lcExpectPool(t, map[string]int{"lc-pool-a": 1, "lc-pool-c": 1})

	s := lcSubscribe(t, tc, "/c?topic=x")
	lcPublish(t, tc, "/c", "topic", "x", "data", "open")
	s.Next(lcWait)
	lcStop(t)
	s.End(lcWait)
}

// TestLifecycleSeparateHubs: two hub names in one config keep separate
// histories and ids.
func TestLifecycleSeparateHubs(t *testing.T) {
	tc := startCaddy(t, lcSite("/one", "hub lc-one", "/two", "hub lc-two"))
	a1 := lcPublish(t, tc, "/one", "topic", "x", "data", "one-1")
	a2 := lcPublish(t, tc, "/one", "topic", "x", "data", "one-2")
	b1 := lcPublish(t, tc, "/two", "topic", "x", "data", "two-1")

	epochA, seqA1 := lcSeq(t, a1)
	_, seqA2 := lcSeq(t, a2)
	epochB, seqB1 := lcSeq(t, b1)
	if epochA == epochB {
		t.Errorf("hubs lc-one and lc-two share the id prefix %q", epochA)
	}
	if seqA1 != 1 || seqA2 != 2 || seqB1 != 1 {
		t.Errorf("ids %s %s on lc-one and %s on lc-two: want each hub to count from 1 on its own", a1, a2, b1)
	}
	if got := lcData(lcReplay(t, tc, "/one", "x")); !slices.Equal(got, []string{"one-1", "one-2"}) {
		t.Errorf("replay on lc-one: %q", got)
	}
	if got := lcData(lcReplay(t, tc, "/two", "x")); !slices.Equal(got, []string{"two-1"}) {
		t.Errorf("replay on lc-two: %q", got)
	}
	// An id of one hub means nothing to the other.
	s := lcSubscribe(t, tc, "/two?topic=x", "Last-Event-ID", a1)
	if ev := s.Next(lcWait); ev.Type != "sse.reset" {
		t.Errorf("resuming on lc-two with an id of lc-one: got %+v, want sse.reset", ev)
	}
	s.Close()
	lcStop(t)
}

// TestLifecycleProvisionErrors: bad hub names and grant templates fail
// the load with a message naming the problem, and take nothing.
func TestLifecycleProvisionErrors(t *testing.T) {
	tc := startCaddy(t, lcSite("/", "hub lc-prov"))
	id := lcPublish(t, tc, "/", "topic", "x", "data", "kept")
	for _, tt := range []struct{ name, opts, want string }{
		{"hub name with a space", `hub "a b"`, `hub name "a b"`},
		{"hub name of 65 characters", "hub " + strings.Repeat("h", 65), `hub name "` + strings.Repeat("h", 65) + `"`},
		{"hub name with a slash", "hub a/b", `hub name "a/b"`},
		{"subscribe grant a*", "subscribe_allow a*", `grant "a*"`},
		{"publish grant **/x", "publish_allow **/x", `grant "**/x"`},
		{"grant with an empty segment", "subscribe_allow a//b", `grant "a//b"`},
		{"placeholder grant with a partial wildcard", "subscribe_allow users/{http.auth.user.id}*", `grant "users/{http.auth.user.id}*"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// lcSite adds valid grants after these options; a second
			// subscribe_allow would be a duplicate, so build the site here.
			site := "http://127.0.0.1:{PORT} {\n\tsse {\n\t\t" + tt.opts + "\n\t}\n}\n"
			err := tc.TryLoad(site)
			if err == nil {
				t.Fatalf("config with %s loaded; want an error", tt.opts)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("load error %q does not contain %q", err, tt.want)
			}
			lcExpectPool(t, map[string]int{"lc-prov": 1})
		})
	}
	t.Run("valid names and templates", func(t *testing.T) {
		name := strings.Repeat("h", 64)
		lcReload(t, tc, fmt.Sprintf(`http://127.0.0.1:{PORT} {
	route /p {
		sse {
			hub A-z_0.9
			subscribe_allow users/{http.auth.user.id}/** orders/*
		}
	}
	sse {
		hub %s
	}
}
`, name))
		lcExpectPool(t, map[string]int{name: 1, "A-z_0.9": 1})
		lcReload(t, tc, lcSite("/", "hub lc-prov"))
	})
	if st := pooledHubNamed(t, "lc-prov").Stats(); st.NewestID == id {
		t.Fatalf("hub lc-prov survived a config that did not name it: %+v", st)
	}
	lcStop(t)
}

// TestLifecycleValidate: caddy.Validate provisions and cleans up like
// `caddy validate`, leaves the pool as it was and does not change a
// running hub that the validated config names.
func TestLifecycleValidate(t *testing.T) {
	cfgJSON, err := adaptCaddyfile(t, strings.ReplaceAll(
		lcSite("/", "hub lc-validate; history 1", "/b", "hub lc-validate-b"), "{PORT}", strconv.Itoa(freePort(t))))
	if err != nil {
		t.Fatal(err)
	}
	validate := func() {
		t.Helper()
		var cfg caddy.Config
		if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
			t.Fatal(err)
		}
		if err := caddy.Validate(&cfg); err != nil {
			t.Fatalf("validate: %v", err)
		}
	}

	validate()
	if keys := lcPoolKeys(); len(keys) != 0 {
		t.Fatalf("hubs left in the pool after validate: %q", keys)
	}

	// With a config running that names the same hub.
	tc := startCaddy(t, lcSite("/", "hub lc-validate; history 5"))
	for _, data := range []string{"one", "two", "three"} {
		lcPublish(t, tc, "/", "topic", "x", "data", data)
	}
	validate()
	lcExpectPool(t, map[string]int{"lc-validate": 1})
	if got := pooledHubNamed(t, "lc-validate").Settings().History; got != 5 {
		t.Errorf("running hub's history setting after validating another config: %d, want 5", got)
	}
	if got := lcData(lcReplay(t, tc, "/", "x")); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Errorf("replay after validate: %q, want [one two three]", got)
	}
	lcStop(t)
}

// TestLifecycleStopEndsStreams: stopping Caddy ends an open stream with
// sse.close and a short retry, and gives its hub back.
func TestLifecycleStopEndsStreams(t *testing.T) {
	tc := startCaddy(t, lcSite("/", "hub lc-stop"))
	s := lcSubscribe(t, tc, "/?topic=x")
	id := lcPublish(t, tc, "/", "topic", "x", "data", "one")
	if ev := s.Next(lcWait); ev.ID != id {
		t.Fatalf("got %+v, want %s", ev, id)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := caddy.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	ev := s.Next(lcWait)
	if ev.Type != "sse.close" || ev.Retry < 250 || ev.Retry > 1250 {
		t.Fatalf("at stop the stream got %+v, want sse.close with retry 250..1250", ev)
	}
	s.End(lcWait)
	select {
	case <-stopped:
	case <-time.After(lcWait):
		t.Fatal("caddy.Stop did not return")
	}
	if keys := lcPoolKeys(); len(keys) != 0 {
		t.Fatalf("hubs left in the pool after stop: %q", keys)
	}
}
