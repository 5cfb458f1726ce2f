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
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestJWTConfigErrors(t *testing.T) {
	rsaPath, _ := writePublicKeyPEM(t, &rsaKeys(t)[0].PublicKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ecPath, _ := writePublicKeyPEM(t, &ecKey.PublicKey)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edPath, _ := writePublicKeyPEM(t, edPub)
	privDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	privPath := filepath.Join(t.TempDir(), "private.pem")
	if err := os.WriteFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSE_TEST_SHORT_KEY", "short")
	t.Setenv("SSE_TEST_LONG_KEY", strings.Repeat("k", 64))
	for _, c := range []struct {
		name string
		cfg  JWTConfig
		want string // fragment of the error; "" for none
	}{
		{"no key", JWTConfig{}, "exactly one of"},
		{"key and key_file", JWTConfig{Key: jwtTestSecret, KeyFile: rsaPath}, "exactly one of"},
		{"key and jwks_url", JWTConfig{Key: jwtTestSecret, JWKSURL: "https://a.test/jwks"}, "exactly one of"},
		{"HS256 key", JWTConfig{Key: jwtTestSecret}, ""},
		{"too short for HS256", JWTConfig{Key: jwtTestSecret[:31]}, "too short for HS256: want at least 32 bytes"},
		{"too short for HS384", JWTConfig{Key: jwtTestSecret + "x", Alg: "HS384"}, "want at least 48 bytes"},
		{"too short for HS512", JWTConfig{Key: strings.Repeat("k", 63), Alg: "HS512"}, "want at least 64 bytes"},
		{"long enough for HS512", JWTConfig{Key: strings.Repeat("k", 64), Alg: "HS512"}, ""},
		{"key from the environment", JWTConfig{Key: "{env.SSE_TEST_LONG_KEY}", Alg: "HS512"}, ""},
		{"short key from the environment", JWTConfig{Key: "{env.SSE_TEST_SHORT_KEY}"}, "too short"},
		{"unset environment variable", JWTConfig{Key: "{env.SSE_TEST_UNSET_KEY}"}, "key is empty"},
		{"secret with an RSA alg", JWTConfig{Key: jwtTestSecret, Alg: "RS256"}, "must be HS256, HS384 or HS512"},
		{"alg none", JWTConfig{Key: jwtTestSecret, Alg: "none"}, `unknown alg "none"`},
		{"unknown alg", JWTConfig{Key: jwtTestSecret, Alg: "HS1024"}, "unknown alg"},
		{"RSA key file", JWTConfig{KeyFile: rsaPath}, ""},
		{"RSA key file with PS384", JWTConfig{KeyFile: rsaPath, Alg: "PS384"}, ""},
		{"RSA key file with HS256", JWTConfig{KeyFile: rsaPath, Alg: "HS256"}, "does not fit the key"},
		{"RSA key file with ES256", JWTConfig{KeyFile: rsaPath, Alg: "ES256"}, "does not fit the key"},
		{"P-384 key file", JWTConfig{KeyFile: ecPath, Alg: "ES384"}, ""},
		{"P-384 key file with ES256", JWTConfig{KeyFile: ecPath, Alg: "ES256"}, "does not fit the key"},
		{"Ed25519 key file", JWTConfig{KeyFile: edPath}, ""},
		{"private key file", JWTConfig{KeyFile: privPath}, "not a public key"},
		{"missing key file", JWTConfig{KeyFile: filepath.Join(t.TempDir(), "nope.pem")}, "cannot read the file"},
		{"jwks over https", JWTConfig{JWKSURL: "https://auth.example.com/.well-known/jwks.json"}, ""},
		{"jwks over http on loopback", JWTConfig{JWKSURL: "http://127.0.0.1:9/jwks"}, ""},
		{"jwks over http elsewhere", JWTConfig{JWKSURL: "http://auth.example.com/jwks"}, "https URL"},
		{"jwks with an HMAC alg", JWTConfig{JWKSURL: "https://a.test/jwks", Alg: "HS256"}, "needs a shared secret"},
		{"negative leeway", JWTConfig{Key: jwtTestSecret, Leeway: -1}, "leeway"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := newTokenVerifier(context.Background(), &c.cfg, zap.NewNop())
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case c.want != "" && err == nil:
				t.Fatalf("no error, want one containing %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), jwtTestSecret[:16]) {
				t.Fatalf("the error holds the key: %v", err)
			}
		})
	}
}

// TestVerifyDotsBounded checks that a long junk token is refused before
// it is parsed, with little memory.
func TestVerifyDotsBounded(t *testing.T) {
	v, err := newTokenVerifier(context.Background(), &JWTConfig{Key: jwtTestSecret}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	dots := strings.Repeat(".", 10<<10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, err := v.verify(context.Background(), dots); err == nil || err.Error() != "token is too long" {
			t.Fatalf("verify(dots) = %v, want token is too long", err)
		}
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("100 refusals allocated %d bytes", alloc)
	}
}

// TestVerifyExpiryWithLeeway checks the stream deadline a token gives.
func TestVerifyExpiryWithLeeway(t *testing.T) {
	v, err := newTokenVerifier(context.Background(), &JWTConfig{Key: jwtTestSecret, Leeway: caddy.Duration(30 * time.Second)}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Minute).Truncate(time.Second)
	tok, err := v.verify(context.Background(), hsToken(t, jwt.MapClaims{"exp": exp.Unix(), "sub": "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := exp.Add(30 * time.Second); !tok.expires.Equal(want) || tok.subject != "alice" {
		t.Fatalf("expires %v subject %q, want %v alice", tok.expires, tok.subject, want)
	}
}

func TestCaddyfileAuthOptions(t *testing.T) {
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`sse {
	jwt {
		key_file /etc/caddy/jwt.pem
		alg ES256
		issuer https://auth.example.com
		audience sse
		leeway 30s
	}
	token_query off
	token_cookie session
	cors_origins https://app.example.com http://localhost:3000
}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Handler{
		JWT: &JWTConfig{KeyFile: "/etc/caddy/jwt.pem", Alg: "ES256", Issuer: "https://auth.example.com",
			Audience: "sse", Leeway: caddy.Duration(30 * time.Second)},
		TokenQuery: "off", TokenCookie: "session",
		CORSOrigins: []string{"https://app.example.com", "http://localhost:3000"},
	}
	if got, w := cfJSON(t, *h), cfJSON(t, want); got != w {
		t.Fatalf("got %s\nwant %s", got, w)
	}
	h = new(Handler)
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("sse {\n\tjwt {\n\t\tjwks_url https://a.test/jwks\n\t}\n\thub x\n}")); err != nil {
		t.Fatal(err)
	}
	if h.JWT == nil || h.JWT.JWKSURL != "https://a.test/jwks" || h.Hub != "x" {
		t.Fatalf("options after the jwt block lost: %+v", h)
	}
}

func TestCaddyfileAuthErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		input string
		want  string
		line  int
	}{
		{"jwt with an argument", "sse {\n\tjwt foo {\n\t\tkey x\n\t}\n}", "wrong argument count", 2},
		{"unknown jwt option", "sse {\n\tjwt {\n\t\tkey x\n\t\tsecret y\n\t}\n}", `unknown jwt option "secret"`, 4},
		{"duplicate jwt option", "sse {\n\tjwt {\n\t\tkey x\n\t\tkey y\n\t}\n}", `jwt: duplicate option "key"`, 4},
		{"jwt key without argument", "sse {\n\tjwt {\n\t\tkey\n\t}\n}", "wrong argument count", 3},
		{"jwt alg with two arguments", "sse {\n\tjwt {\n\t\talg HS256 HS512\n\t}\n}", "wrong argument count", 3},
		{"bad leeway", "sse {\n\tjwt {\n\t\tleeway soon\n\t}\n}", `leeway: want a non-negative duration, got "soon"`, 3},
		{"duplicate jwt block", "sse {\n\tjwt {\n\t\tkey x\n\t}\n\tjwt {\n\t\tkey y\n\t}\n}", `duplicate option "jwt"`, 5},
		{"token_query without argument", "sse {\n\ttoken_query\n}", "wrong argument count", 2},
		{"token_cookie with two arguments", "sse {\n\ttoken_cookie a b\n}", "wrong argument count", 2},
		{"duplicate token_cookie", "sse {\n\ttoken_cookie a\n\ttoken_cookie b\n}", `duplicate option "token_cookie"`, 3},
		{"jwt option with a block", "sse {\n\tjwt {\n\t\tkey x {\n\t\t\ty\n\t\t}\n\t}\n}", `jwt option "key" takes no block`, 3},
		{"jwt option with an empty block", "sse {\n\tjwt {\n\t\tissuer x { }\n\t}\n}", `jwt option "issuer" takes no block`, 3},
		{"cors_origins without argument", "sse {\n\tcors_origins\n}", "wrong argument count", 2},
		{"cors_origins with a block", "sse {\n\tcors_origins https://a.test {\n\t\tx\n\t}\n}", `option "cors_origins" takes no block`, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if at := "Testfile:" + strconv.Itoa(tt.line); !strings.HasSuffix(err.Error(), at) {
				t.Errorf("error %q does not point at %s", err, at)
			}
		})
	}
}

// TestProvisionAuthErrors checks the options that only provisioning can
// judge, as `caddy validate` does: offline, and leaving no hub behind.
// Values the Caddyfile parser already refuses (TestAdaptValueErrors) are
// put into the adapted JSON in place of a good one (from → to), as a JSON
// config would bring them.
func TestProvisionAuthErrors(t *testing.T) {
	for _, c := range []struct{ name, options, from, to, want string }{
		{"short key", "jwt {\n\t\t\tkey short\n\t\t}", "", "", "too short"},
		{"origin with a path", "cors_origins https://ok.test", "https://ok.test", "https://a.test/app", "want scheme://host[:port]"},
		{"origin with a trailing slash", "cors_origins https://ok.test", "https://ok.test", "https://a.test/", "want scheme://host[:port]"},
		{"origin wildcard", "cors_origins https://ok.test", "https://ok.test", "*", "want scheme://host[:port]"},
		{"bad token_query", "token_query ok", `"ok"`, `"a=b"`, "token_query and token_cookie"},
		{"bad token_cookie", "token_cookie ok", `"ok"`, `"a;b"`, "token_query and token_cookie"},
		{"jwks only", "jwt {\n\t\t\tjwks_url https://auth.invalid/jwks\n\t\t}", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := "{\n\tadmin off\n\tlog {\n\t\toutput discard\n\t}\n}\nhttp://localhost {\n\tsse {\n\t\t" + c.options + "\n\t}\n}\n"
			cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), nil)
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			if c.from != "" {
				if !bytes.Contains(cfgJSON, []byte(c.from)) {
					t.Fatalf("adapted JSON lacks %s: %s", c.from, cfgJSON)
				}
				cfgJSON = bytes.Replace(cfgJSON, []byte(c.from), []byte(c.to), 1)
			}
			var cfg caddy.Config
			if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
				t.Fatal(err)
			}
			err = caddy.Validate(&cfg)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("validate: %v, want an error containing %q", err, c.want)
			}
			if n := lcPoolSize(); n != 0 {
				t.Fatalf("%d hubs left in the pool", n)
			}
		})
	}
}

// TestJWKSUnavailable checks that a key server that fails is reported as
// such and is not hammered by retries.
func TestJWKSUnavailable(t *testing.T) {
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	v, err := newTokenVerifier(context.Background(), &JWTConfig{JWKSURL: srv.URL}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer v.jwks.close()
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tok := mintToken(t, jwt.SigningMethodEdDSA, edKey, "a", jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	for range 50 {
		if _, err := v.verify(context.Background(), tok); err == nil || err.Error() != "the key set is unavailable" {
			t.Fatalf("verify = %v, want the key set is unavailable", err)
		}
	}
	if n := fetches.Load(); n > jwksRefreshBurst {
		t.Fatalf("50 tokens made %d fetches of a failing key set, want at most %d", n, jwksRefreshBurst)
	}
}

// TestJWKSUnusableKeys checks that keys a set holds but that cannot be
// used are skipped and logged once, without taking the set's good keys
// down with them, and that the log holds no key material.
func TestJWKSUnusableKeys(t *testing.T) {
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	secret := b64url([]byte(jwtTestSecret))
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "OKP", "kid": "good", "crv": "Ed25519", "x": b64url(edPub)},
		{"kty": "oct", "kid": "symmetric", "k": secret},
		{"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": b64url(make([]byte, 32)), "y": b64url(make([]byte, 32))},
		{"kty": "OKP", "kid": "encryption", "crv": "Ed25519", "x": b64url(edPub), "use": "enc"},
		{"kty": "OKP", "kid": "wrong-alg", "crv": "Ed25519", "x": b64url(edPub), "alg": "RS256"},
	}})
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(set)
	}))
	defer srv.Close()
	core, logs := observer.New(zap.WarnLevel)
	v, err := newTokenVerifier(context.Background(), &JWTConfig{JWKSURL: srv.URL}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer v.jwks.close()
	tok := func(kid string) string {
		return mintToken(t, jwt.SigningMethodEdDSA, edKey, kid, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	}
	if _, err := v.verify(context.Background(), tok("good")); err != nil {
		t.Fatalf("token of the good key: %v", err)
	}
	// An unknown kid makes a second fetch of the same set: nothing new to log.
	if _, err := v.verify(context.Background(), tok("unknown")); err == nil || err.Error() != errUnknownKey.Error() {
		t.Fatalf("unknown kid: %v, want %v", err, errUnknownKey)
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	for _, kid := range []string{"symmetric", "off-curve", "encryption", "wrong-alg"} {
		if _, err := v.verify(context.Background(), tok(kid)); err == nil {
			t.Errorf("token naming the unusable key %q verified", kid)
		}
		if n := logs.FilterField(zap.String("kid", kid)).Len(); n != 1 {
			t.Errorf("unusable key %q logged %d times, want once", kid, n)
		}
	}
	if n := logs.FilterField(zap.String("kid", "good")).Len(); n != 0 {
		t.Errorf("the good key was logged as unusable")
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, secret) || strings.Contains(f.String, b64url(edPub)) {
				t.Errorf("a log entry holds key material: %s %v", e.Message, e.Context)
			}
		}
	}
}
