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

// Command ssebench is the project's load tool. It drives a running SSE hub
// (Caddy with the plugin, or the bare floor hub it also serves) over
// loopback: it opens many subscribers on raw HTTP/1.1 connections,
// publishes events at a rate or as fast as it can, checks every delivery
// (missing, duplicate, out of order), times publish→receive, and reads the
// server's CPU time and memory from /proc. It prints a human summary and
// one JSON line, and stops by itself.
//
//	ssebench floor -listen 127.0.0.1:8090
//	ssebench run -url http://127.0.0.1:8080/events -subs 5000 -rate 10 -events 100 -pid $(pidof caddy)
//	ssebench suite -caddy ./caddy -subs 19000
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
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
		fmt.Fprintln(os.Stderr, "usage: ssebench floor|run|suite [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "floor":
		err = runFloor(os.Args[2:])
	case "run":
		err = runLoad(os.Args[2:])
	case "suite":
		err = runSuite(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want floor, run or suite", os.Args[1])
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
	return http.ListenAndServe(*listen, newFloorHub())
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

// subscriber is one stream's view of the run.
type subscriber struct {
	lastSeq   int64
	received  int
	dups      int
	reordered int
	latencies []int32 // microseconds
}

// result is what a run measured.
type result struct {
	Label          string  `json:"label"`
	Subscribers    int     `json:"subscribers"`
	Events         int     `json:"events"`
	Expected       int     `json:"deliveries_expected"`
	Delivered      int     `json:"deliveries"`
	Missing        int     `json:"missing"`
	Duplicates     int     `json:"duplicates"`
	OutOfOrder     int     `json:"out_of_order"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	PublishSeconds float64 `json:"publish_seconds"`
	DeliveriesPerS float64 `json:"deliveries_per_second"`
	PublishesPerS  float64 `json:"publishes_per_second"`
	RSSBaseKiB     int64   `json:"server_rss_base_kib,omitempty"`
	RSSSubsKiB     int64   `json:"server_rss_with_subscribers_kib,omitempty"`
	KiBPerSub      float64 `json:"server_kib_per_subscriber,omitempty"`
	IdleCPUPerSubS float64 `json:"server_idle_cpu_us_per_subscriber_second,omitempty"`
	CPUPerDelivery float64 `json:"server_cpu_us_per_delivery,omitempty"`
	CPUPerPublish  float64 `json:"server_cpu_us_per_publish,omitempty"`
}

func load(c loadConfig) (*result, error) {
	res := &result{Label: c.label, Subscribers: c.subs, Events: c.events}
	if c.pid > 0 {
		res.RSSBaseKiB = rssKiB(c.pid)
	}
	subURL, err := url.Parse(c.url)
	if err != nil {
		return nil, err
	}
	q := subURL.Query()
	q.Set("topic", c.topic)
	subURL.RawQuery = q.Encode()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs := make([]*subscriber, c.subs)
	var wg sync.WaitGroup
	var delivered atomic.Int64
	expected := int64(c.subs * c.events)
	allDone := make(chan struct{})
	var doneOnce sync.Once
	sem := make(chan struct{}, c.dialers)
	var openErr atomic.Value
	var opened sync.WaitGroup
	for i := range subs {
		subs[i] = &subscriber{lastSeq: -1, latencies: make([]int32, 0, c.events)}
		opened.Add(1)
		wg.Add(1)
		sem <- struct{}{}
		go func(s *subscriber) {
			defer wg.Done()
			conn, br, err := openStream(ctx, subURL)
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
		res.KiBPerSub = float64(res.RSSSubsKiB-res.RSSBaseKiB) / float64(c.subs)
	}
	if c.idle > 0 && c.pid > 0 {
		cpu0 := cpuMicros(c.pid)
		time.Sleep(c.idle) // measuring an idle period is the point here
		res.IdleCPUPerSubS = float64(cpuMicros(c.pid)-cpu0) / float64(c.subs) / c.idle.Seconds()
	}

	cpu0 := cpuMicros(c.pid)
	start := time.Now()
	if err := publishAll(c); err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	res.PublishSeconds = time.Since(start).Seconds()
	select {
	case <-allDone:
	case <-time.After(c.wait):
	}
	elapsed := time.Since(start).Seconds()
	if c.pid > 0 {
		cpu := float64(cpuMicros(c.pid) - cpu0)
		if d := delivered.Load(); d > 0 {
			res.CPUPerDelivery = cpu / float64(d)
		}
		res.CPUPerPublish = cpu / float64(c.events)
	}
	cancel()
	wg.Wait()

	var all []int32
	for _, s := range subs {
		res.Delivered += s.received
		res.Duplicates += s.dups
		res.OutOfOrder += s.reordered
		all = append(all, s.latencies...)
	}
	res.Expected = int(expected)
	res.Missing = res.Expected - (res.Delivered - res.Duplicates)
	res.DeliveriesPerS = float64(res.Delivered) / elapsed
	res.PublishesPerS = float64(c.events) / res.PublishSeconds
	if len(all) > 0 {
		slices.Sort(all)
		res.P50ms = float64(all[len(all)/2]) / 1000
		res.P99ms = float64(all[len(all)*99/100]) / 1000
		res.MaxMs = float64(all[len(all)-1]) / 1000
	}
	return res, nil
}

// openStream sends a subscribe request on a new connection and returns
// once the response headers arrived.
func openStream(ctx context.Context, u *url.URL) (net.Conn, *bufio.Reader, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, nil, err
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAccept: text/event-stream\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		conn.Close()
		// Caddy answers a host it has no site for with an empty 200.
		return nil, nil, fmt.Errorf("subscribe: status %d, content type %q: is the URL's host one the server serves?",
			resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The body is chunked; read it through the response so chunk headers
	// never reach the event parser.
	return conn, bufio.NewReaderSize(resp.Body, 4096), nil
}

// read parses events until the connection ends. Event data is
// "<publish unix nanos>"; the order check uses the numeric tail of the id.
func (s *subscriber) read(br *bufio.Reader, onEvent func()) {
	var seq int64 = -1
	var sent int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		line = line[:len(line)-1]
		switch {
		case len(line) == 0:
			if seq < 0 {
				continue
			}
			now := time.Now().UnixNano()
			switch {
			case seq == s.lastSeq:
				s.dups++
			case seq < s.lastSeq:
				s.reordered++
			}
			s.lastSeq = max(s.lastSeq, seq)
			s.received++
			s.latencies = append(s.latencies, int32((now-sent)/1000))
			seq = -1
			onEvent()
		case len(line) > 4 && string(line[:4]) == "id: ":
			id := string(line[4:])
			if i := strings.LastIndexByte(id, '-'); i >= 0 {
				id = id[i+1:]
			}
			seq, _ = strconv.ParseInt(id, 10, 64)
		case len(line) > 6 && string(line[:6]) == "data: ":
			sent, _ = strconv.ParseInt(string(line[6:]), 10, 64)
		}
	}
}

// publishAll publishes c.events events, at c.rate per second or, with
// rate 0, as fast as c.publishers concurrent publishers can.
func publishAll(c loadConfig) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.publishers + 1}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	publish := func() error {
		n := int(next.Add(int64(c.batch))) - c.batch
		if n >= c.events {
			return io.EOF
		}
		count := min(c.batch, c.events-n)
		var req *http.Request
		var err error
		now := strconv.FormatInt(time.Now().UnixNano(), 10)
		if c.batch == 1 {
			body := url.Values{"topic": {c.topic}, "data": {now}}.Encode()
			req, err = http.NewRequest(http.MethodPost, c.pubURL, strings.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		} else {
			batch := make([]map[string]string, count)
			for i := range batch {
				batch[i] = map[string]string{"topic": c.topic, "data": now}
			}
			b, _ := json.Marshal(batch)
			req, err = http.NewRequest(http.MethodPost, c.pubURL, strings.NewReader(string(b)))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
			}
		}
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("publish: status %d", resp.StatusCode)
		}
		return nil
	}
	if c.rate > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) * float64(c.batch) / c.rate))
		defer tick.Stop()
		for {
			if err := publish(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			<-tick.C
		}
	}
	errc := make(chan error, c.publishers)
	for range c.publishers {
		go func() {
			for {
				if err := publish(); err != nil {
					if errors.Is(err, io.EOF) {
						err = nil
					}
					errc <- err
					return
				}
			}
		}()
	}
	var first error
	for range c.publishers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
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
	fmt.Fprintf(w, "%s: %d subscribers, %d events: %d/%d deliveries (missing %d, duplicates %d, out of order %d)\n",
		r.Label, r.Subscribers, r.Events, r.Delivered, r.Expected, r.Missing, r.Duplicates, r.OutOfOrder)
	fmt.Fprintf(w, "  publish→receive p50 %.1f ms, p99 %.1f ms, max %.1f ms; %.0f deliveries/s, %.0f publishes/s\n",
		r.P50ms, r.P99ms, r.MaxMs, r.DeliveriesPerS, r.PublishesPerS)
	if r.RSSBaseKiB > 0 {
		fmt.Fprintf(w, "  server RSS %d KiB → %d KiB with subscribers: %.1f KiB per subscriber\n", r.RSSBaseKiB, r.RSSSubsKiB, r.KiBPerSub)
		fmt.Fprintf(w, "  server CPU %.2f µs per delivery, %.1f µs per publish", r.CPUPerDelivery, r.CPUPerPublish)
		if r.IdleCPUPerSubS > 0 {
			fmt.Fprintf(w, "; idle %.2f µs per subscriber-second", r.IdleCPUPerSubS)
		}
		fmt.Fprintln(w)
	}
	b, _ := json.Marshal(r)
	fmt.Fprintln(w, string(b))
}
