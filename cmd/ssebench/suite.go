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
	"encoding/json"
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

// suiteCaddyfile is the plugin's side of the suite: one sse route with
// grants for everything, limits out of the way, and a plain respond route
// to measure what Caddy itself costs per request.
const suiteCaddyfile = `{
	admin 127.0.0.1:{ADMIN}
	persist_config off
	log {
		output discard
	}
}

http://127.0.0.1:{PORT} {
	route /events {
		sse {
			subscribe_allow **
			publish_allow **
			buffer 4096
		}
	}
	respond /plain "ok" 200
}
`

// runSuite starts the floor and Caddy side by side, runs each scenario
// against both with a fresh server per run, and prints every result and
// the plugin/floor ratios.
func runSuite(args []string) error {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	caddyBin := fs.String("caddy", "./caddy", "Caddy binary built with the plugin")
	subs := fs.Int("subs", 19000, "subscribers for the idle and wide fan-out scenarios")
	throughputSubs := fs.Int("throughput-subs", 5000, "subscribers for the throughput scenario")
	events := fs.Int("events", 50, "events per rate-limited scenario")
	only := fs.String("only", "", "comma-separated scenarios to run (idle,fanout,throughput); empty runs all")
	_ = fs.Parse(args)
	raiseFileLimit()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	type scenario struct {
		name string
		cfg  loadConfig
	}
	scenarios := []scenario{
		{"idle", loadConfig{subs: *subs, events: 1, rate: 1, idle: 10 * time.Second}},
		{"fanout", loadConfig{subs: *subs, events: *events, rate: 5}},
		{"throughput", loadConfig{subs: *throughputSubs, events: 2000, rate: 0, publishers: 1}},
	}
	var results []*result
	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(","+*only+",", ","+sc.name+",") {
			continue
		}
		var pair [2]*result
		for i, server := range []string{"floor", "plugin"} {
			srv, err := startServer(server, self, *caddyBin)
			if err != nil {
				return err
			}
			c := sc.cfg
			c.url, c.pubURL, c.topic, c.label = srv.url, srv.url, "bench", sc.name+"/"+server
			c.pid, c.publishers, c.batch, c.dialers, c.wait = srv.pid, max(c.publishers, 1), 1, 64, 120*time.Second
			res, err := load(c)
			srv.stop()
			if err != nil {
				return fmt.Errorf("%s against %s: %v", sc.name, server, err)
			}
			res.print(os.Stdout)
			pair[i] = res
			results = append(results, res)
		}
		f, p := pair[0], pair[1]
		fmt.Printf("== %s ratios (plugin/floor): KiB per subscriber %s, p50 %s, p99 %s, CPU per delivery %s\n\n",
			sc.name, ratio(p.KiBPerSub, f.KiBPerSub), ratio(p.P50ms, f.P50ms), ratio(p.P99ms, f.P99ms),
			ratio(p.CPUPerDelivery, f.CPUPerDelivery))
	}
	b, _ := json.Marshal(results)
	fmt.Println(string(b))
	return nil
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64)
}

type server struct {
	cmd *exec.Cmd
	pid int
	url string
	dir string
}

// startServer runs the floor (this binary) or Caddy as a child process on
// free loopback ports and waits until it accepts connections.
func startServer(kind, self, caddyBin string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{}
	switch kind {
	case "floor":
		addr := "127.0.0.1:" + strconv.Itoa(port)
		s.url = "http://" + addr + "/events"
		s.cmd = exec.Command(self, "floor", "-listen", addr)
	default:
		admin, err := freePort()
		if err != nil {
			return nil, err
		}
		if s.dir, err = os.MkdirTemp("", "ssebench-"); err != nil {
			return nil, err
		}
		cfg := strings.NewReplacer("{PORT}", strconv.Itoa(port), "{ADMIN}", strconv.Itoa(admin)).Replace(suiteCaddyfile)
		path := filepath.Join(s.dir, "Caddyfile")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		s.url = "http://127.0.0.1:" + strconv.Itoa(port) + "/events"
		s.cmd = exec.Command(caddyBin, "run", "--config", path)
		s.cmd.Env = append(os.Environ(), "HOME="+s.dir, "XDG_DATA_HOME="+s.dir, "XDG_CONFIG_HOME="+s.dir)
	}
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, os.Stderr
	if kind != "floor" {
		s.cmd.Stderr = io.Discard
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = s.cmd.Process.Pid
	for deadline := time.Now().Add(20 * time.Second); ; {
		if ready(s.url) {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not start serving %s", kind, s.url)
		}
		time.Sleep(50 * time.Millisecond) // polling for a child process to listen
	}
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
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
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
