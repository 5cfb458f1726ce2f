//go:build unix

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
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// helpExamples returns the example command lines of `caddy sse <cmd>
// --help`: the indented lines after the line starting "Example".
func helpExamples(t *testing.T, p *caddyProcess, cmd string) []string {
	t.Helper()
	out, err := p.run(time.Minute, "sse", cmd, "--help")
	if err != nil {
		t.Fatalf("caddy sse %s --help: %v\n%s", cmd, err, out)
	}
	var examples []string
	in := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Example"):
			in = true
		case in && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "":
			examples = append(examples, strings.TrimSpace(line))
		case in && len(examples) > 0:
			in = false
		}
	}
	if len(examples) == 0 {
		t.Fatalf("caddy sse %s --help shows no example:\n%s", cmd, out)
	}
	return examples
}

// TestCommandHelpExamples runs the examples of `caddy sse token --help`
// and `caddy sse publish --help` as written, in a shell with the built
// caddy first on PATH, against a Caddy started on Caddyfile.example as
// the README starts it. One substitution, so that the test can run
// beside others: Caddyfile.example's ports (8080, admin 2019) are
// replaced by free ones, and so the publish examples get --address of
// that admin endpoint.
func TestCommandHelpExamples(t *testing.T) {
	bin := caddyBinary(t)
	dir := t.TempDir()
	example, err := os.ReadFile("Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	port, adminPort := freePort(t), freePort(t)
	admin := fmt.Sprintf("localhost:%d", adminPort)
	for _, fixed := range []string{"localhost:8080", "localhost:2019"} {
		if !strings.Contains(string(example), fixed) {
			t.Fatalf("Caddyfile.example no longer holds %s; update this test", fixed)
		}
	}
	text := strings.NewReplacer("localhost:8080", fmt.Sprintf("localhost:%d", port), "localhost:2019", admin).Replace(string(example))
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &caddyProcess{bin: bin, dir: dir, Admin: admin, Port: port, URL: fmt.Sprintf("http://localhost:%d", port), log: new(syncBuffer)}
	runCaddyProcess(t, p, config)

	// A shell runs each command's examples in turn, as a reader pastes
	// them; the last line it prints is the last example's output.
	shell := func(t *testing.T, lines []string) []string {
		t.Helper()
		script := "set -e\n" + strings.Join(lines, "\n") + "\n"
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(p.env(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("examples:\n%s\nfailed: %v\n%s%s", script, err, out, stderr)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}

	t.Run("token", func(t *testing.T) {
		out := shell(t, helpExamples(t, p, "token"))
		var claims tokenClaims
		if _, _, err := jwt.NewParser().ParseUnverified(out[len(out)-1], &claims); err != nil {
			t.Fatalf("the token example printed %q, not a JWT: %v", out, err)
		}
		ttl := claims.ExpiresAt.Sub(claims.IssuedAt.Time)
		if claims.Subject != "42" || !slices.Equal(claims.SSE.Subscribe, []string{"users/42/**"}) || ttl != time.Hour {
			t.Fatalf("the token example's claims: %+v (ttl %v), want sub 42, subscribe users/42/**, ttl 1h", claims, ttl)
		}
	})

	t.Run("publish", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		s := subscribeWith(t, client, p.URL+"/events?topic=news&topic=news/**")
		examples := helpExamples(t, p, "publish")
		for i, line := range examples {
			examples[i] = strings.ReplaceAll(line, "caddy sse publish", "caddy sse publish --address "+admin)
		}
		for _, line := range examples {
			id := shell(t, []string{line})[0]
			ev := s.Next(perEventTimeout)
			if ev.ID != id || ev.Data == "" || len(ev.Topics) != 1 {
				t.Fatalf("example %q printed %q; the subscriber got %+v", line, id, ev)
			}
			t.Logf("%s → id %s, event %q on %v: %q", line, id, ev.Type, ev.Topics, ev.Data)
		}
	})
}
