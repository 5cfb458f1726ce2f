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
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ssebench floor|run|plain|churn|suite [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "floor":
		err = runFloor(os.Args[2:])
	case "run":
		err = runLoad(os.Args[2:])
	case "plain":
		err = runPlain(os.Args[2:])
	case "churn":
		err = runChurn(os.Args[2:])
	case "suite":
		err = runSuite(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want floor, run, plain, churn or suite", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ssebench:", err)
		os.Exit(1)
	}
}

func runFloor(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "loopback address to serve the floor hub on")
	_ = fs.Parse(args)
	raiseFileLimit()
	fmt.Fprintf(os.Stderr, "floor hub on http://%s/ (pid %d)\n", *listen, os.Getpid())
	return http.ListenAndServe(*listen, newFloorServer())
}

type loadConfig struct {
	url        string
	pubURL     string
	subs       int
	topic      string
	rate       float64
	events     int
	publishers int
	batch      int
	pid        int
	idle       time.Duration
	wait       time.Duration
	dialers    int
	label      string
	// topics > 0 switches to many topics: one subscriber on each of topics
	// topics plus wildcards subscribers on patterns, events round-robin
	// over the topics (see newPlan).
	topics    int
	wildcards int
}

func runLoad(args []string) error {
	var c loadConfig
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080/events", "subscribe URL (the topic is added as ?topic=)")
	fs.StringVar(&c.pubURL, "pub-url", "", "publish URL (default: -url)")
	fs.IntVar(&c.subs, "subs", 100, "subscribers to open")
	fs.StringVar(&c.topic, "topic", "bench", "topic every subscriber reads and every event goes to")
	fs.Float64Var(&c.rate, "rate", 10, "events per second; 0 publishes as fast as possible")
	fs.IntVar(&c.events, "events", 100, "events to publish")
	fs.IntVar(&c.publishers, "publishers", 1, "concurrent publishers when -rate is 0")
	fs.IntVar(&c.batch, "batch", 1, "events per publish request (more than 1 sends a JSON batch)")
	fs.IntVar(&c.pid, "pid", 0, "server process id, for CPU and memory from /proc (0: not measured)")
	fs.DurationVar(&c.idle, "idle", 0, "hold the subscribers idle this long before publishing (heartbeat cost)")
	fs.DurationVar(&c.wait, "wait", 60*time.Second, "longest wait for the last deliveries")
	fs.IntVar(&c.dialers, "dialers", 64, "subscribers connecting at once")
	fs.StringVar(&c.label, "label", "", "name of this run in the output")
	fs.IntVar(&c.topics, "topics", 0, "many topics: one subscriber on each of this many topics (<topic>/<group>/<n>), instead of -subs on -topic")
	fs.IntVar(&c.wildcards, "wildcards", 0, "with -topics: this many more subscribers on patterns, each matching one group of topics")
	_ = fs.Parse(args)
	if c.pubURL == "" {
		c.pubURL = c.url
	}
	raiseFileLimit()
	res, err := load(c)
	if err != nil {
		return err
	}
	res.print(os.Stdout)
	return nil
}

// raiseFileLimit lifts the soft open-file limit to the hard one, so that
// the limit, not the tool, decides how many subscribers fit.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// plan says what each subscriber reads and which topic each event goes to.
type plan struct {
	selectors []string
	expected  []int // events each subscriber must receive
	topicOf   func(event int) string
}

// newPlan spreads the run over topics. By default every subscriber reads
// c.topic and every event goes there. With c.topics, subscriber i reads
// "<topic>/<i mod groups>/<i>" and event j goes to topic j mod c.topics;
// the groups are c.wildcards, and wildcard subscriber k reads
// "<topic>/<k>/*" (even k) or "*/<k>/**" (odd k), so each event reaches
// exactly one exact and one wildcard subscriber whatever the number of
// topics: only the number of topics that do not match changes.
func newPlan(c loadConfig) plan {
	if c.topics <= 0 {
		p := plan{selectors: make([]string, c.subs), expected: make([]int, c.subs),
			topicOf: func(int) string { return c.topic }}
		for i := range p.selectors {
			p.selectors[i], p.expected[i] = c.topic, c.events
		}
		return p
	}
	groups := max(c.wildcards, 1)
	name := func(i int) string { return c.topic + "/" + strconv.Itoa(i%groups) + "/" + strconv.Itoa(i) }
	p := plan{selectors: make([]string, c.topics+c.wildcards), expected: make([]int, c.topics+c.wildcards),
		topicOf: func(j int) string { return name(j % c.topics) }}
	for i := range c.topics {
		p.selectors[i] = name(i)
	}
	for k := range c.wildcards {
		if k%2 == 0 {
			p.selectors[c.topics+k] = c.topic + "/" + strconv.Itoa(k) + "/*"
		} else {
			p.selectors[c.topics+k] = "*/" + strconv.Itoa(k) + "/**"
		}
	}
	for j := range c.events {
		t := j % c.topics
		p.expected[t]++
		if c.wildcards > 0 {
			p.expected[c.topics+t%groups]++
		}
	}
	return p
}

// result is what a run measured.
type result struct {
	Label          string  `json:"label"`
	Subscribers    int     `json:"subscribers"`
	Topics         int     `json:"topics,omitempty"`
	Wildcards      int     `json:"wildcard_subscribers,omitempty"`
	Events         int     `json:"events"`
	Batch          int     `json:"batch,omitempty"`
	Publishers     int     `json:"publishers"`
	Expected       int     `json:"deliveries_expected"`
	Delivered      int     `json:"deliveries"`
	Missing        int     `json:"missing"`
	Duplicates     int     `json:"duplicates"`
	OutOfOrder     int     `json:"out_of_order"`
	Unexpected     int     `json:"unexpected"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	PublishSeconds float64 `json:"publish_seconds"`
	DeliveriesPerS float64 `json:"deliveries_per_second"`
	PublishesPerS  float64 `json:"publishes_per_second"`
	EventsPerS     float64 `json:"events_published_per_second"`
	RSSBaseKiB     int64   `json:"server_rss_base_kib,omitempty"`
	RSSSubsKiB     int64   `json:"server_rss_with_subscribers_kib,omitempty"`
	KiBPerSub      float64 `json:"server_kib_per_subscriber,omitempty"`
	IdleCPUPerSubS float64 `json:"server_idle_cpu_us_per_subscriber_second,omitempty"`
	CPUPerDelivery float64 `json:"server_cpu_us_per_delivery,omitempty"`
	CPUPerPublish  float64 `json:"server_cpu_us_per_publish,omitempty"`
	CPUPerEvent    float64 `json:"server_cpu_us_per_event,omitempty"`
}

// clean reports whether every expected delivery arrived once, in order,
// and nothing else did.
func (r *result) clean() bool {
	return r.Missing == 0 && r.Duplicates == 0 && r.OutOfOrder == 0 && r.Unexpected == 0 && r.Delivered == r.Expected
}

func load(c loadConfig) (*result, error) {
	c.batch = max(c.batch, 1)
	c.publishers = max(c.publishers, 1)
	c.dialers = max(c.dialers, 1)
	p := newPlan(c)
	res := &result{Label: c.label, Subscribers: len(p.selectors), Topics: c.topics, Wildcards: c.wildcards,
		Events: c.events, Publishers: c.publishers}
	if c.batch > 1 {
		res.Batch = c.batch
	}
	if c.rate > 0 {
		res.Publishers = 1
	}
	if c.pid > 0 {
		res.RSSBaseKiB = rssKiB(c.pid)
	}
	base, err := url.Parse(c.url)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs := make([]*subscriber, len(p.selectors))
	var wg sync.WaitGroup
	var delivered atomic.Int64
	var expected int64
	for _, n := range p.expected {
		expected += int64(n)
	}
	allDone := make(chan struct{})
	var doneOnce sync.Once
	if expected == 0 {
		doneOnce.Do(func() { close(allDone) })
	}
	sem := make(chan struct{}, c.dialers)
	var openErr atomic.Value
	var opened sync.WaitGroup
	for i := range subs {
		u := *base
		q := u.Query()
		q.Set("topic", p.selectors[i])
		u.RawQuery = q.Encode()
		subs[i] = &subscriber{url: &u, expected: p.expected[i], lastSeq: newLastSeq(c.publishers), latencies: make([]int32, 0, p.expected[i])}
		opened.Add(1)
		wg.Add(1)
		sem <- struct{}{}
		go func(s *subscriber) {
			defer wg.Done()
			conn, br, err := openStream(ctx, s.url)
			<-sem
			opened.Done()
			if err != nil {
				openErr.Store(err)
				return
			}
			defer conn.Close()
			go func() { <-ctx.Done(); conn.Close() }()
			s.read(br, func() {
				if delivered.Add(1) == expected {
					doneOnce.Do(func() { close(allDone) })
				}
			})
		}(subs[i])
	}
	opened.Wait()
	if err, _ := openErr.Load().(error); err != nil {
		cancel()
		wg.Wait()
		return nil, fmt.Errorf("opening subscribers: %v", err)
	}
	if c.pid > 0 {
		res.RSSSubsKiB = rssKiB(c.pid)
		res.KiBPerSub = float64(res.RSSSubsKiB-res.RSSBaseKiB) / float64(len(subs))
	}
	if c.idle > 0 && c.pid > 0 {
		cpu0 := cpuMicros(c.pid)
		time.Sleep(c.idle) // measuring an idle period is the point here
		res.IdleCPUPerSubS = float64(cpuMicros(c.pid)-cpu0) / float64(len(subs)) / c.idle.Seconds()
	}

	cpu0 := cpuMicros(c.pid)
	start := time.Now()
	requests, err := publishAll(c, p.topicOf)
	if err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	res.PublishSeconds = time.Since(start).Seconds()
	wait := time.NewTimer(c.wait)
	select {
	case <-allDone:
	case <-wait.C:
	}
	wait.Stop()
	elapsed := time.Since(start).Seconds()
	if c.pid > 0 {
		cpu := float64(cpuMicros(c.pid) - cpu0)
		if d := delivered.Load(); d > 0 {
			res.CPUPerDelivery = cpu / float64(d)
		}
		if requests > 0 {
			res.CPUPerPublish = cpu / float64(requests)
			res.CPUPerEvent = cpu / float64(c.events)
		}
	}
	cancel()
	wg.Wait()

	var all []int32
	for _, s := range subs {
		unique := s.received - s.dups
		res.Delivered += s.received
		res.Duplicates += s.dups
		res.OutOfOrder += s.reordered
		res.Missing += max(0, s.expected-unique)
		res.Unexpected += max(0, unique-s.expected)
		all = append(all, s.latencies...)
	}
	res.Expected = int(expected)
	res.DeliveriesPerS = float64(res.Delivered) / elapsed
	if res.PublishSeconds > 0 {
		res.PublishesPerS = float64(requests) / res.PublishSeconds
		res.EventsPerS = float64(c.events) / res.PublishSeconds
	}
	if len(all) > 0 {
		slices.Sort(all)
		res.P50ms = float64(all[len(all)/2]) / 1000
		res.P99ms = float64(all[len(all)*99/100]) / 1000
		res.MaxMs = float64(all[len(all)-1]) / 1000
	}
	return res, nil
}

// cpuMicros is the user+system CPU time of pid in microseconds, 0 if unknown.
func cpuMicros(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks of 1/100 s.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return (utime + stime) * 10_000
}

// rssKiB is the resident set size of pid in KiB, 0 if unknown.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func (r *result) print(w io.Writer) {
	r.summary(w)
	b, _ := json.Marshal(r)
	fmt.Fprintln(w, string(b))
}

// summary prints the human lines of a run.
func (r *result) summary(w io.Writer) {
	what := fmt.Sprintf("%d subscribers", r.Subscribers)
	if r.Topics > 0 {
		what = fmt.Sprintf("%d topics + %d wildcard subscribers", r.Topics, r.Wildcards)
	}
	if r.Batch > 0 {
		what += fmt.Sprintf(", batches of %d", r.Batch)
	}
	fmt.Fprintf(w, "%s: %s, %d events: %d/%d deliveries (missing %d, duplicates %d, out of order %d, unexpected %d)\n",
		r.Label, what, r.Events, r.Delivered, r.Expected, r.Missing, r.Duplicates, r.OutOfOrder, r.Unexpected)
	fmt.Fprintf(w, "  publish→receive p50 %.1f ms, p99 %.1f ms, max %.1f ms; %.0f deliveries/s, %.0f publishes/s, %.0f events/s (%d publishers)\n",
		r.P50ms, r.P99ms, r.MaxMs, r.DeliveriesPerS, r.PublishesPerS, r.EventsPerS, r.Publishers)
	if r.RSSBaseKiB > 0 {
		fmt.Fprintf(w, "  server RSS %d KiB → %d KiB with subscribers: %.1f KiB per subscriber\n", r.RSSBaseKiB, r.RSSSubsKiB, r.KiBPerSub)
		fmt.Fprintf(w, "  server CPU %.2f µs per delivery, %.1f µs per publish, %.2f µs per event", r.CPUPerDelivery, r.CPUPerPublish, r.CPUPerEvent)
		if r.IdleCPUPerSubS > 0 {
			fmt.Fprintf(w, "; idle %.2f µs per subscriber-second", r.IdleCPUPerSubS)
		}
		fmt.Fprintln(w)
	}
}
