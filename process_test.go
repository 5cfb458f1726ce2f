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

//go:build unix

package caddysse

// Process tests: Caddy built with the plugin (cmd/caddy, what xcaddy
// builds) runs as a separate process, so that shutdown by signal and by
// `caddy stop`, restarts and the CLI's validate, adapt and fmt are tested
// as an operator meets them.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-sse/caddy-sse/internal/ssetest"
)

// exitDeadline is how long Caddy may take to exit once told to stop. It is
// a correctness bound, not a benchmark: streams end on the "stopping"
// event, so a miss means Caddy hung on open streams.
const exitDeadline = 3 * time.Second

// maxShortRetry is the longest retry: a reload or shutdown sends
// (shortRetry: 250ms plus up to 1s of jitter).
const maxShortRetry = 1250

// TestProcessShutdownSIGTERM stops a Caddy holding 1000 streams with
// SIGTERM: it exits in time, and every stream got sse.close with reason
// "shutdown" and a short retry first.
func TestProcessShutdownSIGTERM(t *testing.T) {
	shutdownWithStreams(t, 1000, func(p *caddyProcess) {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	})
}

// TestProcessStop is TestProcessShutdownSIGTERM with `caddy stop`, which
// stops Caddy through its admin endpoint; the command itself must return
// in time too.
func TestProcessStop(t *testing.T) {
	shutdownWithStreams(t, 1000, func(p *caddyProcess) {
		start := time.Now()
		out, err := p.run(exitDeadline, "stop", "--address", p.Admin)
		if err != nil {
			t.Fatalf("caddy stop: %v\n%s", err, out)
		}
		t.Logf("caddy stop returned after %v", time.Since(start).Round(time.Millisecond))
	})
}

// TestProcessRestartResetsResume restarts Caddy (memory hub: history does
// not survive) and resumes with an id from the earlier process: the new
// process must not take it for one of its own ids, which would replay its
// events as if they came after it, but answer with sse.reset.
func TestProcessRestartResetsResume(t *testing.T) {
	bin := caddyBinary(t)
	dir := t.TempDir()
	port, admin := freePort(t), freePort(t)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	first := startCaddyProcess(t, bin, dir, port, admin, processSite)
	var earlier []string
	for k := 1; k <= 3; k++ {
		earlier = append(earlier, publishWith(t, client, first.URL, "topic", "restart", "data", fmt.Sprintf("first process %d", k)))
	}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	first.waitExit(t, exitDeadline)

	second := startCaddyProcess(t, bin, dir, port, admin, processSite)
	var later []string
	for k := 1; k <= 3; k++ {
		id := publishWith(t, client, second.URL, "topic", "restart", "data", fmt.Sprintf("second process %d", k))
		for _, old := range earlier {
			if id == old {
				t.Fatalf("the restarted process gave out id %q again", id)
			}
		}
		later = append(later, id)
	}

	for _, resume := range []struct{ name, query, header string }{
		{"Last-Event-ID header, oldest id", "", earlier[0]},
		{"last_event_id parameter, newest id", "&last_event_id=" + earlier[2], ""},
	} {
		t.Run(resume.name, func(t *testing.T) {
			var header []string
			if resume.header != "" {
				header = []string{"Last-Event-ID", resume.header}
			}
			s := subscribeWith(t, client, second.URL+"/?topic=restart"+resume.query, header...)
			ev := s.Next(perEventTimeout)
			if ev.Type != "sse.reset" || ev.Data != `{"reason":"unknown_id"}` || ev.ID != later[2] {
				t.Fatalf("first event %+v, want sse.reset {\"reason\":\"unknown_id\"} with the newest id %q", ev, later[2])
			}
			live := publishWith(t, client, second.URL, "topic", "restart", "data", "live")
			if ev := s.Next(perEventTimeout); ev.ID != live || ev.Data != "live" {
				t.Fatalf("after the reset got %+v, want the live event %q and no replay", ev, live)
			}
			later[2] = live // the newest id the next resume must be reset to
		})
	}
}

// TestProcessExampleCaddyfile runs `caddy validate`, `caddy adapt
// --validate` and `caddy fmt --diff` on every Caddyfile shipped in the
// repository (Caddyfile.example and any under examples/).
func TestProcessExampleCaddyfile(t *testing.T) {
	bin := caddyBinary(t)
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "Caddyfile") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "Caddyfile.example") {
		t.Fatalf("Caddyfile.example not found among %v", files)
	}
	p := &caddyProcess{bin: bin, dir: t.TempDir()}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			if out, err := p.run(time.Minute, "validate", "--config", file); err != nil {
				t.Errorf("caddy validate: %v\n%s", err, out)
			}
			if out, err := p.run(time.Minute, "adapt", "--validate", "--config", file); err != nil {
				t.Errorf("caddy adapt --validate: %v\n%s", err, out)
			}
			out, err := p.run(time.Minute, "fmt", "--diff", file)
			if err != nil {
				t.Errorf("caddy fmt --diff: %v\n%s", err, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "+ ") || strings.HasPrefix(line, "- ") {
					t.Errorf("caddy fmt --diff shows a difference:\n%s", out)
					break
				}
			}
		})
	}
}

// processSite is the site the process tests serve; {PORT} is its port.
const processSite = `http://127.0.0.1:{PORT} {
	sse {
		hub process
		subscribe_allow **
		publish_allow **
	}
}
`

// shutdownWithStreams opens n streams on a Caddy process over n raw
// HTTP/1.1 connections, checks that all of them are live, stops Caddy
// with stop and checks that it exits within exitDeadline and that every
// stream got sse.close with reason "shutdown" and a short retry.
func shutdownWithStreams(t *testing.T, n int, stop func(*caddyProcess)) {
	bin := caddyBinary(t)
	raiseOpenFileLimit(t, uint64(2*n+256)) // our n sockets, and Caddy's, which inherits the limit
	p := startCaddyProcess(t, bin, t.TempDir(), freePort(t), freePort(t), processSite)

	type result struct {
		events []parsedEvent
		err    error
	}
	results := make(chan result, n)
	var opened, greeted atomic.Int64
	for i := range n {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port))
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := fmt.Fprintf(conn, "GET /?topic=shutdown HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", p.Port); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		go func() {
			var r result
			defer func() { results <- r }()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				r.err = err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				r.err = fmt.Errorf("status %d", resp.StatusCode)
				return
			}
			opened.Add(1) // the hub registers a subscriber before the headers go out
			parser := newSSEParser(resp.Body)
			for {
				ev, err := parser.Next()
				if err != nil {
					if err != io.EOF {
						r.err = err
					}
					return
				}
				if len(r.events) == 0 {
					greeted.Add(1)
				}
				r.events = append(r.events, ev)
			}
		}()
	}
	pollUntil(t, 30*time.Second, fmt.Sprintf("%d streams open", n), func() bool { return opened.Load() == int64(n) },
		func() string { return fmt.Sprintf("%d open", opened.Load()) })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	hello := publishWith(t, client, p.URL, "topic", "shutdown", "data", "hello")
	pollUntil(t, 30*time.Second, fmt.Sprintf("the event on all %d streams", n), func() bool { return greeted.Load() == int64(n) },
		func() string { return fmt.Sprintf("%d got it", greeted.Load()) })

	start := time.Now()
	stop(p)
	p.waitExit(t, exitDeadline-time.Since(start))
	t.Logf("Caddy exited %v after being told to stop, with %d streams open", time.Since(start).Round(time.Millisecond), n)
	if p.waitErr != nil {
		t.Errorf("Caddy exited with %v\n%s", p.waitErr, p.log.String())
	}

	bad := 0
	timeout := time.After(10 * time.Second)
	for i := range n {
		var r result
		select {
		case r = <-results:
		case <-timeout:
			t.Fatalf("%d of %d streams still open after Caddy exited", n-i, n)
		}
		ok := r.err == nil && len(r.events) == 2 && r.events[0].ID == hello &&
			r.events[1].Type == "sse.close" && r.events[1].Data == `{"reason":"shutdown"}` &&
			r.events[1].ID == hello && r.events[1].Retry > 0 && r.events[1].Retry <= maxShortRetry
		if !ok {
			if bad++; bad <= 3 {
				t.Errorf("a stream ended with %+v (%v); want the event %q then sse.close for the shutdown with a retry of at most %dms",
					r.events, r.err, hello, maxShortRetry)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d streams did not end with sse.close for the shutdown", bad, n)
	}
}

// caddyBuild is the Caddy binary with the plugin, built once per test run.
var caddyBuild struct {
	once sync.Once
	path string
	out  []byte
	err  error
}

// xcaddyVersion and the module spelled in readmeBuildCommand are what the
// README's build command uses; TestReadmeCommands keeps the two in step.
const (
	xcaddyPackage      = "github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5"
	readmeBuildCommand = "go run " + xcaddyPackage + " build v2.11.9 --with github.com/caddy-sse/caddy-sse@v0.0.0=. && ./caddy run --config Caddyfile.example"
	readmeTestCommand  = "go test -race -count=1 -timeout 60m ./..."
)

// caddyBinary builds Caddy with this checkout's plugin exactly as the
// README's build command does (xcaddy, Caddy v2.11.9), once per test run,
// into the test storage directory, which TestMain removes.
func caddyBinary(t *testing.T) string {
	t.Helper()
	ssetest.SkipShort(t, ssetest.TierProcess)
	caddyBuild.once.Do(func() {
		caddyBuild.path = filepath.Join(testStorage(t), "bin", "caddy")
		repo, err := os.Getwd()
		if err != nil {
			caddyBuild.err = err
			return
		}
		cmd := exec.Command("go", "run", xcaddyPackage, "build", "v2.11.9",
			"--with", "github.com/caddy-sse/caddy-sse@v0.0.0="+repo, "--output", caddyBuild.path)
		caddyBuild.out, caddyBuild.err = cmd.CombinedOutput()
	})
	if caddyBuild.err != nil {
		t.Fatalf("building Caddy with xcaddy: %v\n%s", caddyBuild.err, caddyBuild.out)
	}
	return caddyBuild.path
}

// TestReadmeCommands checks that the README starts with the two commands
// the suite proves (the xcaddy build above, and this suite's own command)
// and that CI runs exactly the test command.
func TestReadmeCommands(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{readmeBuildCommand, readmeTestCommand} {
		if !strings.Contains(string(readme), "\n"+c+"\n") {
			t.Errorf("README.md lacks the command line %q", c)
		}
	}
	if !strings.Contains(string(ci), "\n"+readmeTestCommand+"\n") {
		t.Errorf(".ci/run does not run %q", readmeTestCommand)
	}
}

// caddyProcess is Caddy running as a child process.
type caddyProcess struct {
	bin   string
	dir   string // holds its Caddyfile, storage and home
	cmd   *exec.Cmd
	Admin string // host:port of the admin endpoint
	Port  int
	URL   string

	log     *syncBuffer
	exited  chan struct{}
	waitErr error // set when exited is closed
}

// startCaddyProcess runs `caddy run` with site (its {PORT} replaced by
// port) after global options putting the admin endpoint on adminPort and
// storage under dir, and waits until the admin endpoint serves the config.
// The process is stopped when the test ends, killed if it does not exit.
func startCaddyProcess(t *testing.T, bin, dir string, port, adminPort int, site string) *caddyProcess {
	t.Helper()
	p := &caddyProcess{
		bin: bin, dir: dir,
		Admin: fmt.Sprintf("127.0.0.1:%d", adminPort),
		Port:  port,
		URL:   fmt.Sprintf("http://127.0.0.1:%d", port),
		log:   new(syncBuffer),
	}
	caddyfile := filepath.Join(dir, "Caddyfile")
	global := fmt.Sprintf("{\n\tadmin %s\n\tpersist_config off\n\tstorage file_system %s\n\tskip_install_trust\n}\n\n",
		p.Admin, filepath.Join(dir, "storage"))
	if err := os.WriteFile(caddyfile, []byte(global+strings.ReplaceAll(site, "{PORT}", fmt.Sprint(port))), 0o600); err != nil {
		t.Fatal(err)
	}
	return runCaddyProcess(t, p, caddyfile)
}

// runCaddyProcess runs `caddy run --config <config>` for p, with extra
// environment variables, and waits until its admin endpoint serves.
func runCaddyProcess(t *testing.T, p *caddyProcess, config string, env ...string) *caddyProcess {
	t.Helper()
	p.cmd = exec.Command(p.bin, "run", "--config", config)
	p.cmd.Env = append(p.env(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { stopProcess(p.cmd.Process, p.exited, 5*time.Second) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("caddy process log:\n%s", p.log.String())
		}
	})

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	pollUntil(t, 30*time.Second, "Caddy serving its config on the admin endpoint", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("caddy exited at startup: %v\n%s", p.waitErr, p.log.String())
		default:
		}
		resp, err := client.Get("http://" + p.Admin + "/config/")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), 5*time.Second)
	if err != nil {
		t.Fatalf("caddy is up but not listening on %d: %v", p.Port, err)
	}
	conn.Close()
	return p
}

var stopProcess = ssetest.StopProcess

// env keeps Caddy's home, data and config directories inside p.dir.
func (p *caddyProcess) env() []string {
	return append(os.Environ(),
		"HOME="+p.dir,
		"XDG_DATA_HOME="+filepath.Join(p.dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(p.dir, "config"),
	)
}

// run runs another caddy command (from the module root, with p's
// environment) and returns its combined output; it is killed after timeout.
func (p *caddyProcess) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Env = p.env()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("still running after %v: %w", timeout, err)
	}
	return string(out), err
}

// waitExit fails the test unless the process exits within timeout.
func (p *caddyProcess) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("Caddy did not exit in time: it hung on shutdown")
	}
}

// raiseOpenFileLimit raises this process's soft limit on open files to
// at least want (up to the hard limit); child processes inherit it.
func raiseOpenFileLimit(t *testing.T, want uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= want {
		return
	}
	if lim.Max < want {
		skipOrFail(t, fmt.Sprintf("the hard limit on open files is %d; this test needs %d", lim.Max, want))
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raising the open file limit: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's stdout and stderr.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
