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

// The machinery of TestReadmeShellExamples: reading the README's code
// blocks, and running a shell block the way a reader does, one command
// after the other in one bash (so exports carry over), with each
// `curl -N` subscriber in a terminal of its own.

import (
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is one fenced code block of the README.
type readmeBlock struct {
	line int    // of the opening fence, 1-based
	lang string // the fence's info string
	text string // the lines between the fences, each ending in "\n"
}

// first is the block's first non-empty line: the marker the test knows it by.
func (b readmeBlock) first() string {
	for line := range strings.Lines(b.text) {
		if s := strings.TrimSpace(line); s != "" {
			return s
		}
	}
	return ""
}

// readmeBlocks returns every fenced block of a Markdown text, in order.
func readmeBlocks(text string) []readmeBlock {
	var blocks []readmeBlock
	var cur *readmeBlock
	for i, line := range strings.Split(text, "\n") {
		fence, ok := strings.CutPrefix(line, "```")
		switch {
		case !ok && cur != nil:
			cur.text += line + "\n"
		case ok && cur == nil:
			cur = &readmeBlock{line: i + 1, lang: strings.TrimSpace(fence)}
		case ok:
			blocks = append(blocks, *cur)
			cur = nil
		}
	}
	return blocks
}

// shellLangs are the fences a shell block may carry.
var shellLangs = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true, "zsh": true, "shell-session": true}

// codeLangs are fences of program code, whose lines are not typed into a
// shell (a JavaScript `export function` is not the shell's export).
var codeLangs = map[string]bool{"js": true, "javascript": true, "ts": true, "typescript": true, "go": true,
	"python": true, "json": true, "caddyfile": true, "html": true, "css": true}

// commandLineRE matches a line a reader would type into a shell, found in a
// block fenced otherwise (a "$ " prompt allowed): such a block is run or
// listed like a sh block.
var commandLineRE = regexp.MustCompile(`^(\$ )?((curl|\./caddy|caddy|xcaddy|go|redis-cli|redis-server|apt-get|sudo|python3|openssl|date|kill)\s|export \w+=|\w*PORT=)`)

// isShell reports whether the block holds commands for a shell: a sh
// block, or a block of no language or of text with a command line in it.
func (b readmeBlock) isShell() bool {
	if shellLangs[b.lang] {
		return true
	}
	if codeLangs[b.lang] {
		return false
	}
	for line := range strings.Lines(b.text) {
		if commandLineRE.MatchString(line) {
			return true
		}
	}
	return false
}

// shellCommand is one command line of a block, after substitution.
type shellCommand struct {
	text  string   // what the test types
	shown []string // the "# …" lines under it: the output the README shows
	out   string   // what it printed on standard output
}

// subscribes reports whether the command is a streaming subscriber
// (`curl -N …`), which a reader runs in a terminal of its own.
func (c *shellCommand) subscribes() bool { return strings.HasPrefix(c.text, "curl -N ") }

// splitCommands cuts a shell block into its command lines (joining lines
// continued with a backslash); a comment line is the output the README
// shows for the command above it.
func splitCommands(block string) []*shellCommand {
	var cmds []*shellCommand
	var pending string
	for line := range strings.Lines(block) {
		line = strings.TrimRight(line, "\n")
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont
			continue
		}
		line, pending = pending+line, ""
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
		case strings.HasPrefix(trimmed, "#"):
			if len(cmds) > 0 {
				shown := strings.TrimSpace(strings.TrimPrefix(trimmed, "#"))
				cmds[len(cmds)-1].shown = append(cmds[len(cmds)-1].shown, shown)
			}
		default:
			cmds = append(cmds, &shellCommand{text: strings.TrimPrefix(trimmed, "$ ")})
		}
	}
	return cmds
}

// shellSession is one bash the test types commands into, as a reader types
// them into a terminal: variables and exports carry from one command to
// the next. Standard output is what the checks read; standard error
// (Caddy's logs, curl's errors) is shown when the test fails.
type shellSession struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *syncBuffer
	stderr *syncBuffer
	read   int // how much of stdout the commands so far printed
	n      int
	exited chan struct{}
}

// startShell starts bash in dir with env. It ends when the test does:
// its stdin closes, and its process group (with anything a command left
// running in the background) is stopped.
func startShell(t *testing.T, dir string, env []string) *shellSession {
	t.Helper()
	s := &shellSession{t: t, stdout: new(syncBuffer), stderr: new(syncBuffer), exited: make(chan struct{})}
	s.cmd = exec.Command("bash", "--noprofile", "--norc")
	s.cmd.Dir, s.cmd.Env = dir, env
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A background child (caddy start's Caddy) holds the output pipes; do
	// not wait for it to close them once bash is gone.
	s.cmd.WaitDelay = time.Second
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stdin.Close()
		stopGroup(s.cmd.Process.Pid, s.exited)
		if t.Failed() {
			t.Logf("shell standard error:\n%s", s.stderr.String())
		}
	})
	return s
}

// stopGroup ends the process group led by pid, a process the test
// started, once its leader has exited or was told to: SIGTERM, then
// SIGKILL after a grace period.
func stopGroup(pid int, exited <-chan struct{}) {
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
}

// commandTimeout bounds one command of a README block: they all return
// in a second or two, so a miss means a command waits for input or hangs.
const commandTimeout = 2 * time.Minute

// run types one command line and returns what it printed on standard
// output; it fails the test when the command exits with a non-zero status.
// The command reads no input (stdin is /dev/null, as when a reader runs it
// without typing anything more); a marker printed after it, with its exit
// status, tells where its output ends.
func (s *shellSession) run(command string) string {
	s.t.Helper()
	s.n++
	marker := fmt.Sprintf("\x1ereadme-test-done %d ", s.n)
	script := fmt.Sprintf("{\n%s\n} </dev/null\nprintf '\\036readme-test-done %d %%d\\n' $?\n", command, s.n)
	if _, err := io.WriteString(s.stdin, script); err != nil {
		s.t.Fatalf("typing %q: %v", command, err)
	}
	var out, status string
	pollUntil(s.t, commandTimeout, fmt.Sprintf("the command %q to finish", command), func() bool {
		select {
		case <-s.exited:
			s.t.Fatalf("the shell exited while running %q\nstderr:\n%s", command, s.stderr.String())
		default:
		}
		all := s.stdout.String()[s.read:]
		before, after, ok := strings.Cut(all, marker)
		if !ok {
			return false
		}
		status, _, ok = strings.Cut(after, "\n")
		if ok {
			out = before
			s.read += len(before) + len(marker) + len(status) + 1
		}
		return ok
	})
	if status != "0" {
		s.t.Fatalf("%q exited with status %s; it printed:\n%s\nstderr:\n%s", command, status, out, s.stderr.String())
	}
	return out
}

// subscriber is a `curl -N` of the README running in a terminal of its own.
type subscriber struct {
	command string
	out     *syncBuffer
	stderr  *syncBuffer
	exited  chan struct{}
}

// startSubscriber runs command in bash in dir and waits until the stream is
// open (curl printed the ":ok" comment), as a reader waits before going to
// the next terminal to publish. It is stopped when the test ends.
func startSubscriber(t *testing.T, dir string, env []string, command string) *subscriber {
	t.Helper()
	sub := &subscriber{command: command, out: new(syncBuffer), stderr: new(syncBuffer), exited: make(chan struct{})}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-c", strings.TrimSuffix(strings.TrimSpace(command), "&"))
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = sub.out, sub.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(sub.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-sub.exited: // its stream ended; nothing left to stop
			return
		default:
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		stopGroup(cmd.Process.Pid, sub.exited)
	})
	sub.wait(t, "the stream to open (\":ok\")", func(out string) bool { return strings.HasPrefix(out, ":ok\n") })
	return sub
}

// wait polls the subscriber's output until cond holds; it fails the test
// when curl exits before.
func (sub *subscriber) wait(t *testing.T, what string, cond func(out string) bool) string {
	t.Helper()
	var out string
	pollUntil(t, 30*time.Second, fmt.Sprintf("%s: %s", sub.command, what), func() bool {
		exited := false
		select {
		case <-sub.exited:
			exited = true
		default:
		}
		out = sub.out.String()
		if ok := cond(out); ok || !exited {
			return ok
		}
		t.Fatalf("%s exited before %s; it printed %q, and on stderr %q", sub.command, what, out, sub.stderr.String())
		return false
	}, func() string {
		return fmt.Sprintf("it printed %q, and on stderr %q", sub.out.String(), sub.stderr.String())
	})
	return out
}

// waitExit waits until the subscriber's curl has exited (its stream ended).
func (sub *subscriber) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-sub.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still running after its stream should have ended; it printed:\n%s", sub.command, sub.out.String())
	}
}
