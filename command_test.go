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

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
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

// lastLine is the last non-empty line of a command's output: what it
// printed on standard output, after anything Caddy logged.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// exitCode is the exit status of a finished command's error.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// TestCommandToken runs `caddy sse token` from the built Caddy and
// verifies the tokens it prints with golang-jwt: an HS256 token from a
// secret and an EdDSA token from a PEM key file, with the claims of
// SPEC §6.
func TestCommandToken(t *testing.T) {
	p := &caddyProcess{bin: caddyBinary(t), dir: t.TempDir()}
	secret := "0123456789abcdef0123456789abcdef"
	start := time.Now().Add(-time.Second)
	out, err := p.run(time.Minute, "sse", "token", "--key", secret, "--sub", "42",
		"--subscribe", "users/42/**", "--subscribe", "news", "--publish", "users/42/**",
		"--ttl", "10m", "--issuer", "https://issuer.example", "--audience", "sse")
	if err != nil {
		t.Fatalf("caddy sse token: %v\n%s", err, out)
	}
	var claims tokenClaims
	_, err = jwt.ParseWithClaims(lastLine(out), &claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithIssuer("https://issuer.example"), jwt.WithAudience("sse"))
	if err != nil {
		t.Fatalf("verifying %q: %v", lastLine(out), err)
	}
	if claims.Subject != "42" || !slices.Equal(claims.SSE.Subscribe, []string{"users/42/**", "news"}) ||
		!slices.Equal(claims.SSE.Publish, []string{"users/42/**"}) {
		t.Errorf("claims %+v", claims)
	}
	if exp := claims.ExpiresAt.Time; exp.Before(start.Add(10*time.Minute)) || exp.After(time.Now().Add(10*time.Minute+time.Second)) {
		t.Errorf("exp %v, want 10 minutes from now", exp)
	}

	// The plugin's own verifier accepts it: the stream opens with the
	// token's grants, and the publish grant works with the token alone.
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		hub cli-token
		jwt {
			key `+secret+`
			issuer https://issuer.example
			audience sse
		}
	}
}
`)
	s := tc.Subscribe("/?topic=users/42/inbox&token=" + lastLine(out))
	id := tc.PublishForm("/?token="+lastLine(out), "topic", "users/42/inbox", "data", "y")
	if ev := s.Next(perEventTimeout); ev.Data != "y" || ev.ID != id {
		t.Fatalf("token stream got %+v", ev)
	}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(p.dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = p.run(time.Minute, "sse", "token", "--key-file", keyFile, "--subscribe", "**")
	if err != nil {
		t.Fatalf("caddy sse token --key-file: %v\n%s", err, out)
	}
	claims = tokenClaims{}
	token, err := jwt.ParseWithClaims(lastLine(out), &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithExpirationRequired())
	if err != nil || token.Method.Alg() != "EdDSA" || !slices.Equal(claims.SSE.Subscribe, []string{"**"}) || claims.SSE.Publish == nil {
		t.Fatalf("EdDSA token %q: %v, claims %+v", lastLine(out), err, claims)
	}
}

// TestCommandUsage checks the help texts and the exit status of wrong
// flags (2) and of a key that cannot be read (1).
func TestCommandUsage(t *testing.T) {
	p := &caddyProcess{bin: caddyBinary(t), dir: t.TempDir()}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sse", "--help"}, 0, "caddy sse publish"},
		{[]string{"sse", "token", "--help"}, 0, "--subscribe"},
		{[]string{"sse", "publish", "--help"}, 0, "--idempotency-key"},
		{[]string{"help", "sse"}, 0, "token"},
		{[]string{"sse", "token"}, exitUsage, "give exactly one of --key and --key-file"},
		{[]string{"sse", "token", "--key", "short"}, exitUsage, "at least 32 bytes"},
		{[]string{"sse", "token", "--key", strings.Repeat("k", 32), "--subscribe", "a*"}, exitUsage, "selector wildcard must be a whole segment"},
		{[]string{"sse", "token", "--key", strings.Repeat("k", 32), "--alg", "none"}, exitUsage, "unknown --alg"},
		{[]string{"sse", "token", "--key-file", "/nonexistent/key.pem"}, exitError, "no such file"},
		{[]string{"sse", "publish", "--data", "x"}, exitUsage, "give at least one --topic"},
		{[]string{"sse", "token", "--key", strings.Repeat("k", 32), "--ttl", "5"}, exitUsage, `invalid argument "5" for "--ttl"`},
		{[]string{"sse", "token", "--nope"}, exitUsage, "unknown flag: --nope"},
		{[]string{"sse", "token", "extra"}, exitUsage, `unknown command "extra"`},
		{[]string{"sse", "publish", "--topic", "t", "--data", "x", "--address", "127.0.0.1:1"}, exitError, "caddy sse publish: "},
	} {
		out, err := p.run(time.Minute, tc.args...)
		if code := exitCode(err); code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("caddy %s: exit %d (%v), want %d; output lacks %q:\n%s", strings.Join(tc.args, " "), code, err, tc.code, tc.want, out)
		}
		// Errors are one plain line, not a JSON log line with escaped quotes.
		if tc.code != 0 && (strings.Contains(out, `"level"`) || strings.Contains(out, `\"`) || !strings.HasPrefix(out, "caddy sse ")) {
			t.Errorf("caddy %s: not a plain error line:\n%s", strings.Join(tc.args, " "), out)
		}
	}
}

// TestCommandPublish runs `caddy sse publish` against a Caddy process:
// the event, with --data and from standard input, reaches a subscriber
// with the id the command printed; a retry with the same idempotency key
// prints the same id; an unknown hub fails with exit status 1.
func TestCommandPublish(t *testing.T) {
	bin := caddyBinary(t)
	p := startCaddyProcess(t, bin, t.TempDir(), freePort(t), freePort(t), `http://127.0.0.1:{PORT} {
	sse {
		subscribe_allow **
	}
}
`)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	s := subscribeWith(t, client, p.URL+"/?topic=cli/**")

	args := []string{"sse", "publish", "--address", p.Admin, "--topic", "cli/a", "--topic", "cli/b",
		"--event", "note", "--data", "hello\nworld", "--idempotency-key", "k1"}
	out, err := p.run(time.Minute, args...)
	if err != nil {
		t.Fatalf("caddy sse publish: %v\n%s", err, out)
	}
	id := lastLine(out)
	if ev := s.Next(perEventTimeout); ev.ID != id || ev.Type != "note" || ev.Data != "hello\nworld" || len(ev.Topics) != 2 {
		t.Fatalf("got %+v, want the event %q the command printed", ev, id)
	}
	if out, err := p.run(time.Minute, args...); err != nil || lastLine(out) != id {
		t.Fatalf("retried publish: %v, printed %q, want %q", err, out, id)
	}

	cmd := exec.Command(bin, "sse", "publish", "--address", p.Admin, "--hub", "default", "--topic", "cli/c")
	cmd.Env = p.env()
	cmd.Stdin = strings.NewReader("from stdin\n")
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("publish from stdin: %v", err)
	}
	if ev := s.Next(perEventTimeout); ev.ID != strings.TrimSpace(string(stdout)) || ev.Data != "from stdin" || ev.Type != "message" {
		t.Fatalf("got %+v, want the stdin event %q", ev, stdout)
	}

	out, err = p.run(time.Minute, "sse", "publish", "--address", p.Admin, "--hub", "nope", "--topic", "a", "--data", "x")
	if exitCode(err) != exitError || !strings.Contains(out, "HTTP 404") || !strings.Contains(out, "nope") {
		t.Fatalf("publish to an unknown hub: %v\n%s", err, out)
	}
}
