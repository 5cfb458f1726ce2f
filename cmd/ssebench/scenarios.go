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
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// plainResult is what a run of plain requests measured: the cost of a
// trivial request on the same server, the yardstick of the publish path.
type plainResult struct {
	Label         string  `json:"label"`
	Requests      int     `json:"requests"`
	Workers       int     `json:"workers"`
	Failures      int     `json:"failures"`
	Seconds       float64 `json:"seconds"`
	RequestsPerS  float64 `json:"requests_per_second"`
	CPUPerRequest float64 `json:"server_cpu_us_per_request,omitempty"`
}

func runPlain(args []string) error {
	fs := flag.NewFlagSet("plain", flag.ExitOnError)
	u := fs.String("url", "http://127.0.0.1:8080/plain", "URL of a trivial route (Caddy's respond)")
	requests := fs.Int("requests", 10000, "requests to send")
	workers := fs.Int("workers", 8, "concurrent clients")
	pid := fs.Int("pid", 0, "server process id, for CPU from /proc (0: not measured)")
	label := fs.String("label", "", "name of this run in the output")
	_ = fs.Parse(args)
	res, err := loadPlain(*u, *requests, *workers, *pid, *label)
	if err != nil {
		return err
	}
	res.print(os.Stdout)
	return nil
}

// loadPlain sends requests POSTs to u from workers concurrent clients, as
// fast as they go. Each carries the body of a single publish, so that the
// request is the same size as on the publish path.
func loadPlain(u string, requests, workers, pid int, label string) (*plainResult, error) {
	workers = max(workers, 1)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers + 1}}
	defer client.CloseIdleConnections()
	res := &plainResult{Label: label, Requests: requests, Workers: workers}
	var next, failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	cpu0 := cpuMicros(pid)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(requests) {
				body := url.Values{"topic": {"bench"}, "data": {strconv.FormatInt(time.Now().UnixNano(), 10)}}.Encode()
				resp, err := client.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("plain request: status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Failures = int(failures.Load())
	res.RequestsPerS = float64(requests) / res.Seconds
	if pid > 0 {
		res.CPUPerRequest = float64(cpuMicros(pid)-cpu0) / float64(requests)
	}
	if err, _ := firstErr.Load().(error); err != nil && res.Failures == requests {
		return nil, err
	}
	return res, nil
}

func (r *plainResult) summary(w io.Writer) {
	fmt.Fprintf(w, "%s: %d plain requests from %d clients (%d failed): %.0f requests/s, server CPU %.1f µs per request\n",
		r.Label, r.Requests, r.Workers, r.Failures, r.RequestsPerS, r.CPUPerRequest)
}

func (r *plainResult) print(w io.Writer) {
	r.summary(w)
	b, _ := json.Marshal(r)
	fmt.Fprintln(w, string(b))
}

// churnConfig describes a churn run: subscribers that come and go.
type churnConfig struct {
	url           string        // subscribe URL; each cycle adds its own ?topic=
	rate          float64       // subscribe/unsubscribe cycles per second
	duration      time.Duration // how long to churn
	warmup        time.Duration // churn before the baseline is taken
	settle        time.Duration // longest wait for goroutines and RSS to come back
	inflight      int           // cycles open at once, at most
	pid           int           // server process, for RSS and CPU
	goroutinesURL string        // pprof goroutine profile (debug=1) of the server
	label         string
}

// churnResult is what a churn run measured. The baseline is taken after a
// warm-up churn, once the server's goroutines are back to where they were
// before it, so that pools and buffers filled once are in the baseline.
type churnResult struct {
	Label              string  `json:"label"`
	Cycles             int     `json:"cycles"`
	Failures           int     `json:"failures"`
	FirstFailure       string  `json:"first_failure,omitempty"`
	Seconds            float64 `json:"seconds"`
	CyclesPerS         float64 `json:"cycles_per_second"`
	CPUPerCycle        float64 `json:"server_cpu_us_per_cycle,omitempty"`
	GoroutinesIdle     int     `json:"goroutines_idle"`
	GoroutinesBase     int     `json:"goroutines_base"`
	GoroutinesPeak     int     `json:"goroutines_peak"`
	GoroutinesAfter    int     `json:"goroutines_after"`
	GoroutinesReturned bool    `json:"goroutines_returned"`
	SettleSeconds      float64 `json:"settle_seconds"`
	RSSBaseKiB         int64   `json:"rss_base_kib"`
	RSSPeakKiB         int64   `json:"rss_peak_kib"`
	RSSAfterKiB        int64   `json:"rss_after_kib"`
	RSSReturned        bool    `json:"rss_returned"`
}

// RSS may stay this far above its baseline (5%, or 2 MiB for a small
// server) and still count as returned: the Go runtime gives freed pages
// back to the OS lazily and in whole chunks.
const (
	rssTolerance      = 0.05
	rssToleranceFloor = 2048 // KiB
)

func runChurn(args []string) error {
	var c churnConfig
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080/events", "subscribe URL (each cycle subscribes to its own topic)")
	fs.Float64Var(&c.rate, "rate", 1000, "subscribe/unsubscribe cycles per second")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "how long to churn")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "churn before taking the baseline")
	fs.DurationVar(&c.settle, "settle", 30*time.Second, "longest wait for goroutines and RSS to return")
	fs.IntVar(&c.inflight, "inflight", 256, "cycles open at once, at most")
	fs.IntVar(&c.pid, "pid", 0, "server process id, for RSS and CPU from /proc")
	fs.StringVar(&c.goroutinesURL, "goroutines-url", "", "the server's goroutine profile, e.g. http://127.0.0.1:2019/debug/pprof/goroutine?debug=1 (Caddy's admin endpoint)")
	fs.StringVar(&c.label, "label", "", "name of this run in the output")
	_ = fs.Parse(args)
	if c.pid <= 0 || c.goroutinesURL == "" {
		return errors.New("churn needs -pid and -goroutines-url")
	}
	raiseFileLimit()
	res, err := churn(c)
	if err != nil {
		return err
	}
	res.print(os.Stdout)
	return nil
}

func churn(c churnConfig) (*churnResult, error) {
	res := &churnResult{Label: c.label}
	var err error
	if res.GoroutinesIdle, err = goroutines(c.goroutinesURL); err != nil {
		return nil, err
	}
	var seq atomic.Int64
	if _, err := churnFor(c, c.warmup, &seq, nil); err != nil {
		return nil, fmt.Errorf("warm-up: %v", err)
	}
	res.GoroutinesBase, _ = settle(c, res.GoroutinesIdle)
	res.RSSBaseKiB = rssKiB(c.pid)
	res.GoroutinesPeak, res.RSSPeakKiB = res.GoroutinesBase, res.RSSBaseKiB

	var peakMu sync.Mutex
	sample := func() {
		g, err := goroutines(c.goroutinesURL)
		rss := rssKiB(c.pid)
		peakMu.Lock()
		defer peakMu.Unlock()
		if err == nil {
			res.GoroutinesPeak = max(res.GoroutinesPeak, g)
		}
		res.RSSPeakKiB = max(res.RSSPeakKiB, rss)
	}
	cpu0 := cpuMicros(c.pid)
	start := time.Now()
	st, err := churnFor(c, c.duration, &seq, sample)
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.Cycles, res.Failures, res.FirstFailure = st.cycles, st.failures, st.firstFailure
	res.CyclesPerS = float64(st.cycles) / res.Seconds
	if st.cycles > 0 {
		res.CPUPerCycle = float64(cpuMicros(c.pid)-cpu0) / float64(st.cycles)
	}

	settled := time.Now()
	res.GoroutinesAfter, res.GoroutinesReturned = settle(c, res.GoroutinesBase)
	// RSS is read once goroutines are back, and again until it is back or
	// the settle time is up: freed memory goes back to the OS lazily.
	limit := res.RSSBaseKiB + max(int64(float64(res.RSSBaseKiB)*rssTolerance), rssToleranceFloor)
	deadline := settled.Add(c.settle)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		res.RSSAfterKiB = rssKiB(c.pid)
		if res.RSSReturned = res.RSSAfterKiB <= limit; res.RSSReturned || time.Now().After(deadline) {
			break
		}
		<-tick.C
	}
	res.SettleSeconds = time.Since(settled).Seconds()
	return res, nil
}

// settle waits, up to c.settle, until the server runs at most want
// goroutines, and returns the last count and whether it got there.
func settle(c churnConfig, want int) (int, bool) {
	deadline := time.Now().Add(c.settle)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		g, err := goroutines(c.goroutinesURL)
		if err == nil && g <= want {
			return g, true
		}
		if time.Now().After(deadline) {
			return g, false
		}
		<-tick.C
	}
}

type churnStats struct {
	cycles, failures int
	firstFailure     string
}

// churnFor runs subscribe/unsubscribe cycles at c.rate for d, calling
// sample every half second, and returns once every cycle has ended. A
// cycle opens a connection, subscribes to a topic of its own, reads the
// response headers and the stream's first line, and closes the connection.
func churnFor(c churnConfig, d time.Duration, seq *atomic.Int64, sample func()) (churnStats, error) {
	base, err := url.Parse(c.url)
	if err != nil {
		return churnStats{}, err
	}
	var cycles, failures atomic.Int64
	var firstFailure atomic.Value
	cycle := func(n int64) {
		u := *base
		q := u.Query()
		q.Set("topic", "churn/"+strconv.FormatInt(n, 10))
		u.RawQuery = q.Encode()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, br, err := openStream(ctx, &u)
		if err == nil {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			var line string
			line, err = br.ReadString('\n')
			if err == nil && !strings.HasPrefix(line, ":") {
				err = fmt.Errorf("stream starts with %q, not a comment", line)
			}
			conn.Close()
		}
		cycles.Add(1)
		if err != nil {
			failures.Add(1)
			firstFailure.CompareAndSwap(nil, err.Error())
		}
	}

	const tickEvery = 10 * time.Millisecond
	perTick := c.rate * tickEvery.Seconds()
	inflight := make(chan struct{}, max(c.inflight, 1))
	var wg sync.WaitGroup
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var sampler *time.Ticker
	var samples <-chan time.Time
	if sample != nil {
		sampler = time.NewTicker(500 * time.Millisecond)
		defer sampler.Stop()
		samples = sampler.C
	}
	end := time.NewTimer(d)
	defer end.Stop()
	owed := 0.0
loop:
	for {
		select {
		case <-end.C:
			break loop
		case <-samples:
			sample()
		case <-tick.C:
			for owed += perTick; owed >= 1; owed-- {
				inflight <- struct{}{} // a full pipe slows the pace: the result shows the rate reached
				wg.Add(1)
				go func(n int64) {
					defer wg.Done()
					cycle(n)
					<-inflight
				}(seq.Add(1))
			}
		}
	}
	wg.Wait()
	st := churnStats{cycles: int(cycles.Load()), failures: int(failures.Load())}
	st.firstFailure, _ = firstFailure.Load().(string)
	return st, nil
}

// goroutines reads the goroutine count from a goroutine profile in its
// debug=1 text form, whose first line is "goroutine profile: total N".
func goroutines(u string) (int, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("goroutine profile %s: status %d", u, resp.StatusCode)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("goroutine profile %s starts with %q", u, line)
	}
	return strconv.Atoi(n)
}

func (r *churnResult) summary(w io.Writer) {
	fmt.Fprintf(w, "%s: %d subscribe/unsubscribe cycles in %.1f s (%.0f/s, %d failed), server CPU %.1f µs per cycle\n",
		r.Label, r.Cycles, r.Seconds, r.CyclesPerS, r.Failures, r.CPUPerCycle)
	if r.FirstFailure != "" {
		fmt.Fprintf(w, "  first failure: %s\n", r.FirstFailure)
	}
	fmt.Fprintf(w, "  goroutines idle %d, baseline %d, peak %d, after %d (returned: %v, in %.1f s)\n",
		r.GoroutinesIdle, r.GoroutinesBase, r.GoroutinesPeak, r.GoroutinesAfter, r.GoroutinesReturned, r.SettleSeconds)
	fmt.Fprintf(w, "  RSS baseline %d KiB, peak %d KiB, after %d KiB (returned within %.0f%% or %d KiB: %v)\n",
		r.RSSBaseKiB, r.RSSPeakKiB, r.RSSAfterKiB, rssTolerance*100, rssToleranceFloor, r.RSSReturned)
}

func (r *churnResult) print(w io.Writer) {
	r.summary(w)
	b, _ := json.Marshal(r)
	fmt.Fprintln(w, string(b))
}
