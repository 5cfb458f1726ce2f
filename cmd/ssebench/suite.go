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

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// suiteCaddyfile is Caddy's side of the suite. {HANDLER} is the plugin's
// sse directive or the caddynull baseline; /topics is the same handler
// without heartbeats (idle streams must not bill the many-topics runs),
// /batch one whose queue holds a whole batch run, and /plain measures what
// a trivial request costs on the same Caddy. The admin endpoint gives the
// goroutine count.
const suiteCaddyfile = `{
	admin 127.0.0.1:{ADMIN}
	persist_config off
	log {
		output discard
	}
}

http://127.0.0.1:{PORT} {
	route /events {
		{HANDLER}
	}
	route /topics {
		{HANDLER heartbeat off}
	}
	route /batch {
		{HANDLER buffer 1000000}
	}
	respond /plain "ok" 200
}
`

// handlerBlock is the route body for kind, with extra options for the
// plugin (the baseline takes none).
func handlerBlock(kind, extra string) string {
	if kind == "null" {
		return "ssebench_null"
	}
	opts := []string{"subscribe_allow **", "publish_allow **"}
	if !strings.HasPrefix(extra, "buffer ") {
		opts = append(opts, "buffer 4096")
	}
	if extra != "" {
		opts = append(opts, extra)
	}
	return "sse {\n\t\t\t" + strings.Join(opts, "\n\t\t\t") + "\n\t\t}"
}

func joinOptions(a, b string) string {
	if b == "" {
		return a
	}
	return a + "\n\t\t\t" + b
}

// suiteConfig holds the sizes of every scenario.
type suiteConfig struct {
	subs           int
	throughputSubs int
	events         int
	idle           time.Duration
	throughputEvts int
	topics         int
	topicsSmall    int
	wildcards      int
	topicEvents    int
	publishers     int
	publishEvents  int
	batchSize      int
	batches        int
	churnRate      float64
	churn          time.Duration
	redisURL       string
	redisSubs      int
	redisEvents    int
	redisRate      float64
	redisTpEvents  int
}

// quickSizes replace the defaults of the size flags with -quick, so that
// the whole suite runs in a few minutes.
var quickSizes = map[string]string{"subs": "1000", "throughput-subs": "500", "events": "20", "idle": "2s",
	"throughput-events": "500", "topics": "2000", "topic-events": "2000", "publish-events": "5000",
	"batches": "10", "churn": "5s", "redis-subs": "200", "redis-events": "200", "redis-throughput-events": "1000"}

var scenarioNames = []string{"idle", "fanout", "throughput", "topics", "publish", "churn", "redis"}

// runSuite runs each scenario against the floor, Caddy with the caddynull
// baseline and Caddy with the plugin, a fresh server per run, and prints
// every result, the ratios and one JSON line per scenario.
func runSuite(args []string) error {
	var sc suiteConfig
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	caddyBin := fs.String("caddy", "./caddy", "Caddy binary with the plugin (and, for the Caddy baseline, the caddynull module)")
	build := fs.Bool("build", false, "build Caddy with the plugin and the caddynull baseline from this checkout (./cmd/ssebench/caddy) first, instead of using -caddy")
	quick := fs.Bool("quick", false, "small sizes for a short run (explicit size flags still apply)")
	only := fs.String("only", "", "comma-separated scenarios to run ("+strings.Join(scenarioNames, ",")+"); empty runs all")
	fs.IntVar(&sc.subs, "subs", 19000, "subscribers for the idle and wide fan-out scenarios")
	fs.IntVar(&sc.throughputSubs, "throughput-subs", 5000, "subscribers for the throughput scenario")
	fs.IntVar(&sc.events, "events", 50, "events of the fan-out scenario (5 per second)")
	fs.DurationVar(&sc.idle, "idle", 10*time.Second, "idle period of the idle scenario")
	fs.IntVar(&sc.throughputEvts, "throughput-events", 2000, "events of the throughput scenario")
	fs.IntVar(&sc.topics, "topics", 10000, "topics of the large many-topics run (one subscriber each)")
	fs.IntVar(&sc.topicsSmall, "topics-small", 100, "topics of the small many-topics run it is compared with")
	fs.IntVar(&sc.wildcards, "wildcards", 100, "wildcard subscribers of the many-topics runs")
	fs.IntVar(&sc.topicEvents, "topic-events", 5000, "events of each many-topics run, one publisher as fast as possible")
	fs.IntVar(&sc.publishers, "publishers", 8, "concurrent publishers of the publish-path scenario")
	fs.IntVar(&sc.publishEvents, "publish-events", 20000, "single publishes (and plain requests) of the publish-path scenario")
	fs.IntVar(&sc.batchSize, "batch", 1000, "events per JSON batch of the publish-path scenario")
	fs.IntVar(&sc.batches, "batches", 200, "batches of the publish-path scenario")
	fs.Float64Var(&sc.churnRate, "churn-rate", 1000, "subscribe/unsubscribe cycles per second of the churn scenario")
	fs.DurationVar(&sc.churn, "churn", 60*time.Second, "duration of the churn scenario")
	fs.StringVar(&sc.redisURL, "redis", "redis://127.0.0.1:6379", "Redis of the redis scenario (memory vs Redis transport, same instance and across two)")
	fs.IntVar(&sc.redisSubs, "redis-subs", 500, "subscribers of the redis scenario")
	fs.IntVar(&sc.redisEvents, "redis-events", 600, "events of the redis scenario's paced runs")
	fs.Float64Var(&sc.redisRate, "redis-rate", 20, "events per second of the redis scenario's paced runs")
	fs.IntVar(&sc.redisTpEvents, "redis-throughput-events", 5000, "events of the redis scenario's as-fast-as-possible runs")
	_ = fs.Parse(args)
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quickSizes {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	for _, name := range strings.Split(*only, ",") {
		if name != "" && !strings.Contains(","+strings.Join(scenarioNames, ",")+",", ","+name+",") {
			return fmt.Errorf("unknown scenario %q: want one of %s", name, strings.Join(scenarioNames, ","))
		}
	}
	raiseFileLimit()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *build {
		dir, err := os.MkdirTemp("", "ssebench-caddy-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if *caddyBin, err = buildCaddy(dir); err != nil {
			return err
		}
	}
	kinds := []string{"floor", "plugin"}
	if out, err := exec.Command(*caddyBin, "list-modules").Output(); err != nil {
		return fmt.Errorf("%s list-modules: %v", *caddyBin, err)
	} else if bytes.Contains(out, []byte("http.handlers.ssebench_null")) {
		kinds = []string{"floor", "null", "plugin"}
	} else {
		fmt.Println("note: this Caddy lacks the caddynull baseline (build it with -build); running floor and plugin only")
	}
	s := &suite{cfg: sc, self: self, caddy: *caddyBin, kinds: kinds}
	for _, name := range scenarioNames {
		if *only != "" && !strings.Contains(","+*only+",", ","+name+",") {
			continue
		}
		fmt.Printf("== %s\n", name)
		out, err := s.run(name)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		var keys []string
		for _, r := range out.Ratios {
			keys = append(keys, r.Name+" "+strconv.FormatFloat(r.Value, 'f', 2, 64))
		}
		fmt.Printf("== %s ratios: %s\n", name, strings.Join(keys, "; "))
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
		fmt.Println()
	}
	return nil
}

// buildCaddy builds ./cmd/ssebench/caddy of the checkout the current
// directory is in, as xcaddy builds (trimmed paths, no symbols).
func buildCaddy(dir string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if _, err := os.Stat(filepath.Join(root, "cmd", "ssebench", "caddy", "main.go")); err != nil {
		return "", errors.New("-build must run inside the caddy-sse checkout")
	}
	bin := filepath.Join(dir, "caddy")
	fmt.Println("building Caddy with the plugin and the caddynull baseline:",
		"go build -trimpath -ldflags '-w -s' -o", bin, "./cmd/ssebench/caddy")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-w -s", "-o", bin, "./cmd/ssebench/caddy")
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building Caddy: %v", err)
	}
	return bin, nil
}

type suite struct {
	cfg   suiteConfig
	self  string
	caddy string
	kinds []string
}

// ratio is one named comparison of a scenario.
type ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// scenarioOutput is the JSON line of a scenario.
type scenarioOutput struct {
	Scenario string  `json:"scenario"`
	Runs     []any   `json:"runs"`
	Ratios   []ratio `json:"ratios"`
}

// measure runs one load, prints its summary and adds it to the runs.
func (o *scenarioOutput) measure(lc loadConfig) (*result, error) {
	res, err := load(lc)
	if err != nil {
		return nil, err
	}
	res.summary(os.Stdout)
	o.Runs = append(o.Runs, res)
	return res, nil
}

func (o *scenarioOutput) ratio(name string, a, b float64) {
	if b != 0 {
		o.Ratios = append(o.Ratios, ratio{name, a / b})
	}
}

// withServer starts a fresh server of kind, runs f against it and stops it.
func (s *suite) withServer(kind string, f func(*server) error) error {
	srv, err := startServer(kind, s.self, s.caddy)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := f(srv); err != nil {
		return fmt.Errorf("against %s: %v", kind, err)
	}
	return nil
}

func (s *suite) run(name string) (*scenarioOutput, error) {
	out := &scenarioOutput{Scenario: name}
	c := s.cfg
	switch name {
	case "idle", "fanout", "throughput":
		cfg := map[string]loadConfig{
			"idle":       {subs: c.subs, events: 1, rate: 1, idle: c.idle},
			"fanout":     {subs: c.subs, events: c.events, rate: 5},
			"throughput": {subs: c.throughputSubs, events: c.throughputEvts, rate: 0, publishers: 1},
		}[name]
		got := map[string]*result{}
		for _, kind := range s.kinds {
			err := s.withServer(kind, func(srv *server) error {
				lc := cfg
				lc.url, lc.pubURL, lc.topic, lc.label, lc.pid = srv.url, srv.url, "bench", name+"/"+kind, srv.pid
				lc.dialers, lc.wait = 64, 120*time.Second
				var err error
				got[kind], err = out.measure(lc)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		for _, pair := range [][2]string{{"plugin", "floor"}, {"null", "floor"}, {"plugin", "null"}} {
			a, b := got[pair[0]], got[pair[1]]
			if a == nil || b == nil {
				continue
			}
			p := pair[0] + "/" + pair[1] + " "
			if name == "idle" {
				out.ratio(p+"KiB per subscriber", a.KiBPerSub, b.KiBPerSub)
				out.ratio(p+"idle CPU per subscriber-second", a.IdleCPUPerSubS, b.IdleCPUPerSubS)
				continue
			}
			out.ratio(p+"p50", a.P50ms, b.P50ms)
			out.ratio(p+"p99", a.P99ms, b.P99ms)
			out.ratio(p+"CPU per delivery", a.CPUPerDelivery, b.CPUPerDelivery)
		}
		return out, s.checkClean(out)

	case "topics":
		got := map[string]*result{}
		for _, kind := range s.kinds {
			for _, topics := range []int{c.topicsSmall, c.topics} {
				err := s.withServer(kind, func(srv *server) error {
					lc := loadConfig{url: srv.topicsURL, pubURL: srv.topicsURL, topic: "m", topics: topics,
						wildcards: c.wildcards, events: c.topicEvents, rate: 0, publishers: 1, pid: srv.pid,
						dialers: 64, wait: 60 * time.Second, label: fmt.Sprintf("topics/%s/%d", kind, topics)}
					var err error
					got[kind+strconv.Itoa(topics)], err = out.measure(lc)
					return err
				})
				if err != nil {
					return nil, err
				}
			}
		}
		large, small := strconv.Itoa(c.topics), strconv.Itoa(c.topicsSmall)
		for _, kind := range s.kinds {
			l, sm := got[kind+large], got[kind+small]
			p := kind + " " + large + "/" + small + " topics "
			out.ratio(p+"CPU per publish", l.CPUPerPublish, sm.CPUPerPublish)
			out.ratio(p+"p50", l.P50ms, sm.P50ms)
			out.ratio(p+"p99", l.P99ms, sm.P99ms)
		}
		if l, f := got["plugin"+large], got["floor"+large]; l != nil && f != nil {
			out.ratio("plugin/floor "+large+" topics CPU per publish", l.CPUPerPublish, f.CPUPerPublish)
			out.ratio("plugin/floor "+large+" topics p99", l.P99ms, f.P99ms)
		}
		return out, s.checkClean(out)

	case "publish":
		plain, single := map[string]*plainResult{}, map[string]*result{}
		var batch *result
		for _, kind := range s.kinds {
			err := s.withServer(kind, func(srv *server) error {
				pr, err := loadPlain(srv.plainURL, c.publishEvents, c.publishers, srv.pid, "publish/"+kind+"/plain")
				if err != nil {
					return err
				}
				pr.summary(os.Stdout)
				plain[kind] = pr
				out.Runs = append(out.Runs, pr)
				single[kind], err = out.measure(loadConfig{url: srv.url, pubURL: srv.url, topic: "bench", subs: 1,
					events: c.publishEvents, rate: 0, publishers: c.publishers, pid: srv.pid, dialers: 1,
					wait: 60 * time.Second, label: "publish/" + kind + "/single"})
				if err != nil || kind != "plugin" {
					return err // the floor and the baseline take forms only
				}
				batch, err = out.measure(loadConfig{url: srv.batchURL, pubURL: srv.batchURL, topic: "bench", subs: 1,
					events: c.batchSize * c.batches, batch: c.batchSize, rate: 0, publishers: 1, pid: srv.pid,
					dialers: 1, wait: 60 * time.Second, label: "publish/plugin/batch"})
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		for _, kind := range s.kinds {
			out.ratio(kind+" publishes/s / same server's plain requests/s", single[kind].PublishesPerS, plain[kind].RequestsPerS)
		}
		for _, pair := range [][2]string{{"plugin", "floor"}, {"null", "floor"}, {"plugin", "null"}} {
			a, b := single[pair[0]], single[pair[1]]
			if a == nil || b == nil {
				continue
			}
			out.ratio(pair[0]+"/"+pair[1]+" publishes/s", a.PublishesPerS, b.PublishesPerS)
			out.ratio(pair[0]+"/"+pair[1]+" CPU per publish", a.CPUPerPublish, b.CPUPerPublish)
		}
		if a, b := plain["plugin"], plain["floor"]; a != nil && b != nil {
			out.ratio("caddy/floor plain requests/s", a.RequestsPerS, b.RequestsPerS)
		}
		if batch != nil {
			out.ratio("plugin batch/single events/s", batch.EventsPerS, single["plugin"].EventsPerS)
		}
		return out, s.checkClean(out)

	case "redis":
		return s.runRedis(out)

	case "churn":
		got := map[string]*churnResult{}
		for _, kind := range s.kinds {
			err := s.withServer(kind, func(srv *server) error {
				res, err := churn(churnConfig{url: srv.url, rate: c.churnRate, duration: c.churn,
					warmup: 2 * time.Second, settle: 30 * time.Second, inflight: 256, pid: srv.pid,
					goroutinesURL: srv.goroutinesURL, label: "churn/" + kind})
				if err != nil {
					return err
				}
				res.summary(os.Stdout)
				got[kind] = res
				out.Runs = append(out.Runs, res)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		for _, kind := range s.kinds {
			r := got[kind]
			out.ratio(kind+" goroutines after/baseline", float64(r.GoroutinesAfter), float64(r.GoroutinesBase))
			out.ratio(kind+" RSS after/baseline", float64(r.RSSAfterKiB), float64(r.RSSBaseKiB))
		}
		if a, b := got["plugin"], got["floor"]; a != nil && b != nil {
			out.ratio("plugin/floor CPU per cycle", a.CPUPerCycle, b.CPUPerCycle)
		}
		if a, b := got["plugin"], got["null"]; a != nil && b != nil {
			out.ratio("plugin/null CPU per cycle", a.CPUPerCycle, b.CPUPerCycle)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

// checkClean reports a delivery problem of any run, after the figures
// were printed: a run that lost events measured something else.
func (s *suite) checkClean(out *scenarioOutput) error {
	for _, r := range out.Runs {
		if res, ok := r.(*result); ok && !res.clean() {
			fmt.Printf("WARNING: %s: %d missing, %d duplicates, %d out of order, %d unexpected of %d deliveries\n",
				res.Label, res.Missing, res.Duplicates, res.OutOfOrder, res.Unexpected, res.Expected)
		}
	}
	return nil
}

type server struct {
	cmd           *exec.Cmd
	pid           int
	url           string // subscribe and publish
	topicsURL     string // the same without heartbeats
	batchURL      string // the same with a queue for a whole batch run
	plainURL      string // a trivial response
	goroutinesURL string
	dir           string
	stderr        *bytes.Buffer
	waited        chan struct{} // closed when the process has exited
}

// startServer runs the floor (this binary) or Caddy (with the plugin, or
// with the caddynull baseline when kind is "null") as a child process on
// free loopback ports and waits until it accepts connections.
func startServer(kind, self, caddyBin string) (*server, error) {
	return startServerWith(kind, self, caddyBin, "")
}

// startServerWith is startServer with an extra option, such as a
// transport, in every plugin handler.
func startServerWith(kind, self, caddyBin, option string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{stderr: new(bytes.Buffer)}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.url = "http://" + addr + "/events"
	s.topicsURL, s.batchURL, s.plainURL = "http://"+addr+"/topics", "http://"+addr+"/batch", "http://"+addr+"/plain"
	switch kind {
	case "floor":
		s.topicsURL, s.batchURL = s.url, s.url
		s.goroutinesURL = "http://" + addr + "/debug/pprof/goroutine?debug=1"
		s.cmd = exec.Command(self, "floor", "-listen", addr)
	default:
		admin, err := freePort()
		if err != nil {
			return nil, err
		}
		if s.dir, err = os.MkdirTemp("", "ssebench-"); err != nil {
			return nil, err
		}
		s.goroutinesURL = "http://127.0.0.1:" + strconv.Itoa(admin) + "/debug/pprof/goroutine?debug=1"
		cfg := strings.NewReplacer("{PORT}", strconv.Itoa(port), "{ADMIN}", strconv.Itoa(admin),
			"{HANDLER}", handlerBlock(kind, option),
			"{HANDLER heartbeat off}", handlerBlock(kind, joinOptions("heartbeat off", option)),
			"{HANDLER buffer 1000000}", handlerBlock(kind, joinOptions("buffer 1000000", option))).Replace(suiteCaddyfile)
		path := filepath.Join(s.dir, "Caddyfile")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		s.cmd = exec.Command(caddyBin, "run", "--config", path)
		s.cmd.Env = append(os.Environ(), "HOME="+s.dir, "XDG_DATA_HOME="+s.dir, "XDG_CONFIG_HOME="+s.dir)
	}
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = s.cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if ready(s.url) {
			s.waited = exited
			return s, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited before serving %s: %s", kind, s.url, tail(s.stderr.Bytes()))
		default:
		}
		if time.Now().After(deadline) {
			s.waited = exited
			s.stop()
			return nil, fmt.Errorf("%s did not start serving %s: %s", kind, s.url, tail(s.stderr.Bytes()))
		}
		time.Sleep(50 * time.Millisecond) // polling for a child process to listen
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// ready reports whether url answers a subscribe with an event stream.
func ready(url string) bool {
	resp, err := http.Get(url + "?topic=ready")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, _ := br.ReadString('\n')
	return resp.StatusCode == http.StatusOK && strings.HasPrefix(line, ":ok")
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	kill := time.NewTimer(10 * time.Second)
	defer kill.Stop()
	select {
	case <-s.waited:
	case <-kill.C:
		_ = s.cmd.Process.Kill()
		<-s.waited
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
