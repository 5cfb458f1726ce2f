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
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtTestSecret is the HMAC secret of the test configs: 32 bytes.
const jwtTestSecret = "0123456789abcdef0123456789abcdef"

// mintToken signs claims with method and key; a non-empty kid goes into
// the header.
func mintToken(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hsToken is a valid HS256 token for the test secret with the given
// extra claims; exp is an hour away unless the claims set it.
func hsToken(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return mintToken(t, jwt.SigningMethodHS256, []byte(jwtTestSecret), "", c)
}

// sseClaim builds the sse claim.
func sseClaim(subscribe, publish []string) map[string]any {
	return map[string]any{"subscribe": subscribe, "publish": publish}
}

// authResponse is a response whose body was read up to a bound: enough
// for an error, or the opening of a stream.
type authResponse struct {
	Status int
	Header http.Header
	Body   string
}

// doAuth sends a request with the given headers (Add, so repeats are
// kept) and returns its status, headers and the start of its body.
func doAuth(t testing.TB, method, url, contentType, body string, header http.Header) authResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range header {
		for _, v := range vals {
			req.Header.Add(name, v)
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b = make([]byte, 5) // ":ok\n\n"
		_, _ = io.ReadFull(resp.Body, b)
	} else {
		b, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	return authResponse{resp.StatusCode, resp.Header, string(b)}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// writePublicKeyPEM writes a PKIX PEM public key and returns its path.
func writePublicKeyPEM(t testing.TB, pub any) (string, []byte) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, b
}

var (
	testRSAOnce sync.Once
	testRSAKeys [2]*rsa.PrivateKey
)

// rsaKeys returns two RSA keys generated once per test binary.
func rsaKeys(t testing.TB) [2]*rsa.PrivateKey {
	testRSAOnce.Do(func() {
		for i := range testRSAKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			testRSAKeys[i] = k
		}
	})
	return testRSAKeys
}

func TestJWTRejectsBadTokens(t *testing.T) {
	keys := rsaKeys(t)
	pemPath, pemBytes := writePublicKeyPEM(t, &keys[0].PublicKey)
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /hs {
		hub jwt-hs
		jwt {
			key `+jwtTestSecret+`
			issuer https://issuer.test
			audience sse
			leeway 10s
		}
		heartbeat off
	}
	sse /rs {
		hub jwt-rs
		jwt {
			key_file `+pemPath+`
		}
		heartbeat off
	}
}`)
	sub := map[string]any{"subscribe": []string{"news"}}
	good := jwt.MapClaims{"iss": "https://issuer.test", "aud": "sse", "sse": sub}
	with := func(extra jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range good {
			c[k] = v
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	now := time.Now()
	noneToken := mintToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "",
		with(jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}))
	for _, c := range []struct {
		name, path, token string
		status            int
		desc              string // fragment of error_description
	}{
		{"valid HS256", "/hs", hsToken(t, good), 200, ""},
		{"within the leeway", "/hs", hsToken(t, with(jwt.MapClaims{"exp": now.Add(-time.Second).Unix()})), 200, ""},
		{"alg none", "/hs", noneToken, 401, "algorithm is not allowed"},
		{"expired", "/hs", hsToken(t, with(jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})), 401, "expired"},
		{"missing exp", "/hs", hsToken(t, with(jwt.MapClaims{"exp": nil})), 401, "no exp"},
		{"nbf beyond the leeway", "/hs", hsToken(t, with(jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()})), 401, "not valid yet"},
		{"nbf within the leeway", "/hs", hsToken(t, with(jwt.MapClaims{"nbf": now.Add(time.Second).Unix()})), 200, ""},
		{"iat in the future", "/hs", hsToken(t, with(jwt.MapClaims{"iat": now.Add(time.Minute).Unix()})), 401, "issued in the future"},
		{"wrong iss", "/hs", hsToken(t, with(jwt.MapClaims{"iss": "https://evil.test"})), 401, "wrong issuer"},
		{"missing iss", "/hs", hsToken(t, with(jwt.MapClaims{"iss": nil})), 401, "no iss"},
		{"missing aud", "/hs", hsToken(t, with(jwt.MapClaims{"aud": nil})), 401, "no aud"},
		{"wrong aud", "/hs", hsToken(t, with(jwt.MapClaims{"aud": "other"})), 401, "wrong audience"},
		{"aud among several", "/hs", hsToken(t, with(jwt.MapClaims{"aud": []string{"other", "sse"}})), 200, ""},
		{"wrong key", "/hs", mintToken(t, jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-or-so!"), "",
			with(jwt.MapClaims{"exp": now.Add(time.Hour).Unix()})), 401, "signature is invalid"},
		{"HS512 where HS256 is pinned", "/hs", mintToken(t, jwt.SigningMethodHS512, []byte(jwtTestSecret), "",
			with(jwt.MapClaims{"exp": now.Add(time.Hour).Unix()})), 401, "algorithm is not allowed"},
		{"invalid selector in the claim", "/hs", hsToken(t, with(jwt.MapClaims{"sse": sseClaim([]string{"a*"}, nil)})), 401, "invalid selector"},
		{"sse claim of the wrong type", "/hs", hsToken(t, with(jwt.MapClaims{"sse": "everything"})), 401, "malformed"},
		{"10 KB of dots", "/hs", strings.Repeat(".", 10<<10), 401, "too long"},
		{"garbage", "/hs", "not-a-token", 401, "malformed"},
		{"valid RS256", "/rs", mintToken(t, jwt.SigningMethodRS256, keys[0], "", jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "sse": sub}), 200, ""},
		{"RS256 by another key", "/rs", mintToken(t, jwt.SigningMethodRS256, keys[1], "", jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "sse": sub}), 401, "signature is invalid"},
		{"HS256 signed with the public key PEM", "/rs", mintToken(t, jwt.SigningMethodHS256, pemBytes, "",
			jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "sse": sub}), 401, "algorithm is not allowed"},
		{"PS256 with the pinned RS256 key", "/rs", mintToken(t, jwt.SigningMethodPS256, keys[0], "", jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "sse": sub}), 401, "algorithm is not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			resp := doAuth(t, http.MethodGet, tc.URL+c.path+"?topic=news", "", "", bearer(c.token))
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
			if c.status != 401 {
				return
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("a bad token took %v to refuse", elapsed)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, `Bearer error="invalid_token", error_description="`) || !strings.Contains(challenge, c.desc) {
				t.Errorf("WWW-Authenticate %q, want invalid_token with %q", challenge, c.desc)
			}
			if len(c.token) > 8 && (strings.Contains(resp.Body, c.token) || strings.Contains(challenge, c.token)) {
				t.Errorf("the response echoes the token")
			}
		})
	}
}

func TestJWTTokenSources(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-sources
		jwt {
			key `+jwtTestSecret+`
		}
		heartbeat off
	}
	sse /renamed {
		hub jwt-sources
		jwt {
			key `+jwtTestSecret+`
		}
		token_query t
		token_cookie session
		heartbeat off
	}
	sse /off {
		hub jwt-sources
		jwt {
			key `+jwtTestSecret+`
		}
		token_query off
		token_cookie off
		heartbeat off
	}
}`)
	tok := hsToken(t, jwt.MapClaims{"sse": sseClaim([]string{"news"}, nil)})
	other := hsToken(t, jwt.MapClaims{"sse": sseClaim([]string{"news"}, nil), "sub": "other"})
	cookie := func(name, v string) string { return (&http.Cookie{Name: name, Value: v}).String() }
	for _, c := range []struct {
		name   string
		path   string // with its query
		header http.Header
		status int
	}{
		{"header", "/events?topic=news", bearer(tok), 200},
		{"scheme in any case", "/events?topic=news", http.Header{"Authorization": {"bEaReR " + tok}}, 200},
		{"cookie", "/events?topic=news", http.Header{"Cookie": {cookie("sse_token", tok)}}, 200},
		{"query", "/events?topic=news&token=" + tok, nil, 200},
		{"header and cookie agreeing", "/events?topic=news", http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {cookie("sse_token", tok)}}, 200},
		{"header and query agreeing", "/events?topic=news&token=" + tok, bearer(tok), 200},
		{"header and cookie disagreeing", "/events?topic=news", http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {cookie("sse_token", other)}}, 401},
		{"header and query disagreeing", "/events?topic=news&token=" + other, bearer(tok), 401},
		{"cookie and query disagreeing", "/events?topic=news&token=" + other, http.Header{"Cookie": {cookie("sse_token", tok)}}, 401},
		{"two query tokens disagreeing", "/events?topic=news&token=" + tok + "&token=" + other, nil, 401},
		{"two Authorization headers", "/events?topic=news", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, 401},
		{"Bearer without a token", "/events?topic=news", http.Header{"Authorization": {"Bearer"}}, 401},
		{"Bearer with two tokens", "/events?topic=news", http.Header{"Authorization": {"Bearer " + tok + " " + tok}}, 401},
		{"empty query token", "/events?topic=news&token=", nil, 401},
		{"no token", "/events?topic=news", nil, 401},
		{"renamed query", "/renamed?topic=news&t=" + tok, nil, 200},
		{"renamed cookie", "/renamed?topic=news", http.Header{"Cookie": {cookie("session", tok)}}, 200},
		{"old query name after a rename", "/renamed?topic=news&token=" + tok, nil, 401},
		{"old cookie name after a rename", "/renamed?topic=news", http.Header{"Cookie": {cookie("sse_token", tok)}}, 401},
		{"query off", "/off?topic=news&token=" + tok, nil, 401},
		{"cookie off", "/off?topic=news", http.Header{"Cookie": {cookie("sse_token", tok)}}, 401},
		{"header with both off", "/off?topic=news", bearer(tok), 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := doAuth(t, http.MethodGet, tc.URL+c.path, "", "", c.header)
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestJWTGrants(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-grants
		jwt {
			key `+jwtTestSecret+`
		}
		subscribe_allow users/{http.auth.user.id} users/{http.auth.user.id}/**
		heartbeat off
	}
}`)
	url := tc.URL + "/events"
	backend := bearer(hsToken(t, jwt.MapClaims{"sse": sseClaim(nil, []string{"users/**", "orders/*"})}))
	alice := bearer(hsToken(t, jwt.MapClaims{"sub": "alice"}))

	t.Run("per-user topics via sub", func(t *testing.T) {
		s := tc.Subscribe("/events?topic=users/alice&topic=users/alice/**", "Authorization", alice.Get("Authorization"))
		resp := doAuth(t, http.MethodPost, url, "application/x-www-form-urlencoded", "topic=users/alice/inbox&data=hi", backend)
		if resp.Status != 200 {
			t.Fatalf("backend publish: %d %s", resp.Status, resp.Body)
		}
		if ev := s.Next(5 * time.Second); ev.Data != "hi" || ev.Topics[0] != "users/alice/inbox" {
			t.Fatalf("alice got %+v", ev)
		}
	})
	t.Run("browser with a cookie, backend with a header", func(t *testing.T) {
		// The README's walkthrough: EventSource("/events?topic=users/alice")
		// with the token in the sse_token cookie.
		s := tc.Subscribe("/events?topic=users/alice", "Cookie", "sse_token="+hsToken(t, jwt.MapClaims{"sub": "alice"}))
		resp := doAuth(t, http.MethodPost, url, "application/x-www-form-urlencoded", `topic=users/alice&data={"text":"hello"}`, backend)
		if resp.Status != 200 {
			t.Fatalf("backend publish: %d %s", resp.Status, resp.Body)
		}
		if ev := s.Next(5 * time.Second); ev.Data != `{"text":"hello"}` {
			t.Fatalf("alice got %+v", ev)
		}
	})
	for _, c := range []struct {
		name   string
		method string
		query  string // GET query, or POST form body
		header http.Header
		status int
	}{
		{"another user's topic", "GET", "topic=users/bob", alice, 403},
		{"all users", "GET", "topic=users/*", alice, 403},
		{"no credentials", "GET", "topic=users/alice", nil, 401},
		{"subscriber token used to publish", "POST", "topic=users/alice&data=x", alice, 403},
		{"publish outside the claims", "POST", "topic=billing/1&data=x", backend, 403},
		{"publish beyond a one-segment grant", "POST", "topic=orders/1/2&data=x", backend, 403},
		{"publish inside the claims", "POST", "topic=orders/1&data=x", backend, 200},
		{"publish without credentials", "POST", "topic=orders/1&data=x", nil, 401},
		{"ungranted pattern", "GET", "topic=orders/**", bearer(hsToken(t, jwt.MapClaims{"sse": sseClaim([]string{"orders/*"}, nil)})), 403},
		{"granted pattern", "GET", "topic=orders/*", bearer(hsToken(t, jwt.MapClaims{"sse": sseClaim([]string{"orders/**"}, nil)})), 200},
		{"sub holding a slash grants nothing", "GET", "topic=users/a/b", bearer(hsToken(t, jwt.MapClaims{"sub": "a/b"})), 403},
		{"sub holding * grants nothing", "GET", "topic=users/*", bearer(hsToken(t, jwt.MapClaims{"sub": "*"})), 403},
		{"empty sub grants nothing", "GET", "topic=users/x", bearer(hsToken(t, jwt.MapClaims{"sub": ""})), 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			var resp authResponse
			if c.method == "GET" {
				resp = doAuth(t, "GET", url+"?"+c.query, "", "", c.header)
			} else {
				resp = doAuth(t, "POST", url, "application/x-www-form-urlencoded", c.query, c.header)
			}
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
		})
	}
}

func TestJWTWithBasicAuth(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	route /events {
		basic_auth {
			`+itBasicAuthUsers(t)+`
		}
		sse {
			hub jwt-basic
			jwt {
				key `+jwtTestSecret+`
			}
			subscribe_allow users/{http.auth.user.id}
			heartbeat off
		}
	}
}`)
	url := tc.URL + "/events?topic="
	basic := basicAuthHeader("alice", "secret")
	cookie := func(claims jwt.MapClaims) string {
		return (&http.Cookie{Name: "sse_token", Value: hsToken(t, claims)}).String()
	}
	for _, c := range []struct {
		name   string
		topic  string
		header http.Header
		status int
	}{
		{"own topic", "users/alice", http.Header{"Authorization": {basic}}, 200},
		{"another user's topic", "users/bob", http.Header{"Authorization": {basic}}, 403},
		{"token agreeing with the user", "users/alice", http.Header{"Authorization": {basic}, "Cookie": {cookie(jwt.MapClaims{"sub": "alice"})}}, 200},
		{"token grants added to the user's", "news", http.Header{"Authorization": {basic}, "Cookie": {cookie(jwt.MapClaims{"sub": "alice", "sse": sseClaim([]string{"news"}, nil)})}}, 200},
		{"token disagreeing with the user", "users/alice", http.Header{"Authorization": {basic}, "Cookie": {cookie(jwt.MapClaims{"sub": "bob"})}}, 401},
		{"wrong password", "users/alice", http.Header{"Authorization": {basicAuthHeader("alice", "nope")}}, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			if resp := doAuth(t, "GET", url+c.topic, "", "", c.header); resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
		})
	}
}

func TestJWTStreamEndsAtTokenExpiry(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-expiry
		jwt {
			key `+jwtTestSecret+`
		}
		heartbeat off
		publish_allow **
	}
}`)
	// exp is in whole seconds: this token expires one to two seconds from now.
	tok := hsToken(t, jwt.MapClaims{"exp": time.Now().Add(2 * time.Second).Unix(), "sse": sseClaim([]string{"news"}, nil)})
	s := tc.Subscribe("/events?topic=news", "Authorization", "Bearer "+tok)
	tc.PublishForm("/events", "topic", "news", "data", "before")
	if ev := s.Next(5 * time.Second); ev.Data != "before" {
		t.Fatalf("got %+v, want the event published before expiry", ev)
	}
	ev := s.Next(5 * time.Second)
	if ev.Type != "sse.close" || ev.Data != `{"reason":"token_expired"}` {
		t.Fatalf("got %+v, want sse.close with reason token_expired", ev)
	}
	if rest := s.End(5 * time.Second); len(rest) != 0 {
		t.Fatalf("events after sse.close: %+v", rest)
	}
}

// jwksServer serves a key set that a test can replace, and counts fetches.
// A test can make its fetches hang until it releases them.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	hang    chan struct{} // while non-nil, fetches block until it is closed
	entered chan struct{} // a blocked fetch sends on it
	blocked atomic.Int64  // fetches blocked right now
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T) *jwksServer {
	js := &jwksServer{entered: make(chan struct{}, 16)}
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.fetches.Add(1)
		js.mu.Lock()
		body, hang := js.body, js.hang
		js.mu.Unlock()
		if hang != nil {
			js.blocked.Add(1)
			js.entered <- struct{}{}
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			js.blocked.Add(-1)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(js.Close)
	return js
}

// hangFetches makes the next fetches block until the returned function is
// called; the test's end calls it too.
func (js *jwksServer) hangFetches(t *testing.T) (release func()) {
	hang := make(chan struct{})
	js.mu.Lock()
	js.hang = hang
	js.mu.Unlock()
	release = sync.OnceFunc(func() {
		js.mu.Lock()
		js.hang = nil
		js.mu.Unlock()
		close(hang)
	})
	t.Cleanup(release)
	return release
}

func (js *jwksServer) set(t *testing.T, keys ...map[string]string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	js.mu.Lock()
	js.body = b
	js.mu.Unlock()
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestJWTJWKS(t *testing.T) {
	js := newJWKSServer(t)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPub2, edKey2, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey := rsaKeys(t)[0]
	ecX, ecY := make([]byte, 32), make([]byte, 32)
	ecKey.X.FillBytes(ecX)
	ecKey.Y.FillBytes(ecY)
	rsaJWK := map[string]string{"kty": "RSA", "kid": "r", "alg": "RS256", "n": b64url(rsaKey.N.Bytes()), "e": b64url(big.NewInt(int64(rsaKey.E)).Bytes())}
	ecJWK := map[string]string{"kty": "EC", "kid": "e", "crv": "P-256", "x": b64url(ecX), "y": b64url(ecY)}
	edJWK := map[string]string{"kty": "OKP", "kid": "a", "crv": "Ed25519", "x": b64url(edPub), "use": "sig"}
	js.set(t, edJWK, rsaJWK, ecJWK, map[string]string{"kty": "oct", "kid": "h", "k": b64url([]byte(jwtTestSecret))})

	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-jwks
		jwt {
			jwks_url `+js.URL+`/jwks.json
		}
		heartbeat off
	}
}`)
	if n := js.fetches.Load(); n != 0 {
		t.Fatalf("the key set was fetched %d times before any token came: it must be fetched lazily", n)
	}
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "sse": sseClaim([]string{"news"}, nil)}
	}
	get := func(tok string) int {
		return doAuth(t, "GET", tc.URL+"/events?topic=news", "", "", bearer(tok)).Status
	}
	for _, c := range []struct {
		name   string
		token  string
		status int
	}{
		{"EdDSA", mintToken(t, jwt.SigningMethodEdDSA, edKey, "a", claims()), 200},
		{"RS256", mintToken(t, jwt.SigningMethodRS256, rsaKey, "r", claims()), 200},
		{"ES256", mintToken(t, jwt.SigningMethodES256, ecKey, "e", claims()), 200},
		{"RS512 where the key says RS256", mintToken(t, jwt.SigningMethodRS512, rsaKey, "r", claims()), 401},
		{"HS256 with the RSA key's kid", mintToken(t, jwt.SigningMethodHS256, []byte(jwtTestSecret), "r", claims()), 401},
		{"HS256 with a symmetric key of the set", mintToken(t, jwt.SigningMethodHS256, []byte(jwtTestSecret), "h", claims()), 401},
		{"EdDSA signed by another key", mintToken(t, jwt.SigningMethodEdDSA, edKey2, "a", claims()), 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := get(c.token); got != c.status {
				t.Fatalf("status %d, want %d", got, c.status)
			}
		})
	}
	if n := js.fetches.Load(); n != 1 {
		t.Fatalf("key set fetched %d times for tokens of known kids, want 1", n)
	}

	// Rotation: the set now holds only a new key; a token with its kid
	// makes one refetch.
	js.set(t, map[string]string{"kty": "OKP", "kid": "b", "crv": "Ed25519", "x": b64url(edPub2)})
	if got := get(mintToken(t, jwt.SigningMethodEdDSA, edKey2, "b", claims())); got != 200 {
		t.Fatalf("token of the rotated-in key: status %d, want 200", got)
	}
	if n := js.fetches.Load(); n != 2 {
		t.Fatalf("key set fetched %d times after one rotation, want 2", n)
	}
	if got := get(mintToken(t, jwt.SigningMethodEdDSA, edKey, "a", claims())); got != 401 {
		t.Fatalf("token of the rotated-out key: status %d, want 401", got)
	}
	afterRotation := js.fetches.Load()

	// A storm of made-up kids, concurrently: every token is refused and the
	// key server sees at most the one extra fetch the rate limit allows.
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := range 100 {
		tok := mintToken(t, jwt.SigningMethodEdDSA, edKey2, fmt.Sprintf("storm-%d", i), claims())
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", tc.URL+"/events?topic=news", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				wrong.Add(1)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				wrong.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d tokens with unknown kids were not refused", n)
	}
	// The limit allows a burst of 2 and one more per 10s; a slow run may
	// have earned one more.
	if n := js.fetches.Load() - afterRotation; n > 2 {
		t.Fatalf("an unknown-kid storm of 100 requests made %d key set fetches, want at most 2", n)
	}
	if got := get(mintToken(t, jwt.SigningMethodEdDSA, edKey2, "b", claims())); got != 200 {
		t.Fatalf("after the storm, a valid token: status %d, want 200", got)
	}
}

// TestJWTJWKSHangingFetch checks that a key server that hangs costs only
// the tokens whose kid the set lacks, and those at most jwksWaitMax: a
// token whose key is cached is answered while the fetch is still blocked.
func TestJWTJWKSHangingFetch(t *testing.T) {
	js := newJWKSServer(t)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	js.set(t, map[string]string{"kty": "OKP", "kid": "a", "crv": "Ed25519", "x": b64url(edPub)})
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-jwks-hang
		jwt {
			jwks_url `+js.URL+`/jwks.json
		}
		heartbeat off
	}
}`)
	token := func(kid string) string {
		return mintToken(t, jwt.SigningMethodEdDSA, edKey, kid, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "sse": sseClaim([]string{"news"}, nil)})
	}
	// get has a timeout far beyond the fetch timeout, so that a request
	// stuck behind the fetch comes back and the checks below say so.
	get := func(kid string) (authResponse, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*jwksFetchTimeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tc.URL+"/events?topic=news", nil)
		req.Header.Set("Authorization", "Bearer "+token(kid))
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("request: %v", err)
			return authResponse{}, time.Since(start)
		}
		elapsed := time.Since(start)
		resp.Body.Close()
		return authResponse{resp.StatusCode, resp.Header, ""}, elapsed
	}
	if resp, _ := get("a"); resp.Status != 200 {
		t.Fatalf("token of a key in the set: status %d, want 200", resp.Status)
	}

	release := js.hangFetches(t)
	type result struct {
		resp    authResponse
		elapsed time.Duration
	}
	unknown := make(chan result, 1)
	go func() {
		resp, elapsed := get("made-up")
		unknown <- result{resp, elapsed}
	}()
	select {
	case <-js.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("a token with an unknown kid made no fetch of the key set")
	}

	// The fetch is blocked: a token whose key is cached must not wait for it.
	resp, elapsed := get("a")
	if blocked := js.blocked.Load(); blocked != 1 {
		t.Fatalf("the cached-key token was answered after %v, once the hanging fetch had given up: it waited for the fetch", elapsed)
	}
	if resp.Status != 200 {
		t.Fatalf("token of a cached key during a hanging fetch: status %d, want 200", resp.Status)
	}

	// The unknown kid is refused within the documented bound, while the
	// fetch it asked for still hangs.
	var r result
	select {
	case r = <-unknown:
	case <-time.After(3 * jwksFetchTimeout):
		t.Fatal("the unknown-kid request never came back")
	}
	if r.resp.Status != 401 || !strings.Contains(r.resp.Header.Get("WWW-Authenticate"), "no key in the key set") {
		t.Fatalf("unknown kid: status %d, WWW-Authenticate %q; want 401 naming the unknown key", r.resp.Status, r.resp.Header.Get("WWW-Authenticate"))
	}
	// The bound plus a second of slack for a loaded machine; the fetch
	// itself would take jwksFetchTimeout.
	if r.elapsed > jwksWaitMax+time.Second {
		t.Fatalf("unknown kid refused after %v, want at most jwksWaitMax (%v)", r.elapsed, jwksWaitMax)
	}
	if blocked := js.blocked.Load(); blocked != 1 {
		t.Fatalf("%d fetches blocked when the unknown kid was refused, want the one still hanging", blocked)
	}
	release()
}

func TestJWTCookiePublishOrigin(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-origin
		jwt {
			key `+jwtTestSecret+`
		}
		cors_origins https://app.example.com
	}
}`)
	tok := hsToken(t, jwt.MapClaims{"sse": sseClaim(nil, []string{"news"})})
	cookie := (&http.Cookie{Name: "sse_token", Value: tok}).String()
	httpsURL := "https://" + strings.TrimPrefix(tc.URL, "http://")
	for _, c := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"foreign Origin", http.Header{"Cookie": {cookie}, "Origin": {"https://evil.example"}}, 403},
		{"same Origin", http.Header{"Cookie": {cookie}, "Origin": {tc.URL}}, 200},
		{"listed Origin", http.Header{"Cookie": {cookie}, "Origin": {"https://app.example.com"}}, 200},
		{"no Origin nor Referer", http.Header{"Cookie": {cookie}}, 403},
		{"null Origin", http.Header{"Cookie": {cookie}, "Origin": {"null"}}, 403},
		{"same-origin Referer", http.Header{"Cookie": {cookie}, "Referer": {tc.URL + "/page"}}, 200},
		{"foreign Referer", http.Header{"Cookie": {cookie}, "Referer": {"https://evil.example/page"}}, 403},
		{"Origin of a lookalike host", http.Header{"Cookie": {cookie}, "Origin": {tc.URL + ".evil.example"}}, 403},
		{"header token from a foreign Origin", http.Header{"Authorization": {"Bearer " + tok}, "Origin": {"https://evil.example"}}, 200},
		// Fetch metadata: the browser sets Sec-Fetch-Site and a page cannot.
		// A same-origin https page behind a TLS-terminating proxy: Caddy
		// sees http, the Origin says https.
		{"same-origin https page behind a proxy", http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"same-origin"}, "Origin": {httpsURL}}, 200},
		{"Sec-Fetch-Site same-origin without Origin", http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"same-origin"}}, 200},
		{"Sec-Fetch-Site none", http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"none"}}, 200},
		{"cross-site from a foreign Origin", http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, 403},
		{"cross-site from a listed Origin", http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://app.example.com"}}, 200},
		{"same-site from an unlisted Origin", http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"same-site"}, "Origin": {"https://other.example.com"}}, 403},
		{"cross-site with a same-origin Referer", http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"cross-site"}, "Referer": {tc.URL + "/page"}}, 403},
		// Caddy trusts no proxy here: a forwarded scheme is ignored.
		{"https Origin and X-Forwarded-Proto from an untrusted proxy", http.Header{"Cookie": {cookie}, "X-Forwarded-Proto": {"https"}, "Origin": {httpsURL}}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := doAuth(t, "POST", tc.URL+"/events", "application/x-www-form-urlencoded", "topic=news&data=x", c.header)
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
		})
	}
}

// TestJWTCookiePublishTrustedProxy checks that the scheme a proxy Caddy
// trusts reports in X-Forwarded-Proto is the request's, for a browser too
// old to send Sec-Fetch-Site.
func TestJWTCookiePublishTrustedProxy(t *testing.T) {
	tc := startCaddy(t, `{
	admin off
	persist_config off
	storage file_system `+testStorage(t)+`
	skip_install_trust
	log {
		output discard
	}
	servers {
		trusted_proxies static 127.0.0.1/32
	}
}
http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-origin-proxy
		jwt {
			key `+jwtTestSecret+`
		}
	}
}`)
	tok := hsToken(t, jwt.MapClaims{"sse": sseClaim(nil, []string{"news"})})
	cookie := (&http.Cookie{Name: "sse_token", Value: tok}).String()
	httpsURL := "https://" + strings.TrimPrefix(tc.URL, "http://")
	for _, c := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"https page, proxy says https", http.Header{"Cookie": {cookie}, "X-Forwarded-Proto": {"https"}, "Origin": {httpsURL}}, 200},
		{"https page, proxies say https then http", http.Header{"Cookie": {cookie}, "X-Forwarded-Proto": {"https, http"}, "Origin": {httpsURL}}, 200},
		{"https page, no forwarded scheme", http.Header{"Cookie": {cookie}, "Origin": {httpsURL}}, 403},
		{"http page, proxy says https", http.Header{"Cookie": {cookie}, "X-Forwarded-Proto": {"https"}, "Origin": {tc.URL}}, 403},
		{"http page, proxy says http", http.Header{"Cookie": {cookie}, "X-Forwarded-Proto": {"http"}, "Origin": {tc.URL}}, 200},
		{"https Referer, proxy says https", http.Header{"Cookie": {cookie}, "X-Forwarded-Proto": {"https"}, "Referer": {httpsURL + "/page"}}, 200},
		{"foreign Origin, proxy says https", http.Header{"Cookie": {cookie}, "X-Forwarded-Proto": {"https"}, "Origin": {"https://evil.example"}}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := doAuth(t, "POST", tc.URL+"/events", "application/x-www-form-urlencoded", "topic=news&data=x", c.header)
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
		})
	}
}

// TestJWTTyp checks explicit typing (RFC 8725 §3.11): a token typed as
// anything but an access token is refused, whatever it grants.
func TestJWTTyp(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-typ
		jwt {
			key `+jwtTestSecret+`
		}
		heartbeat off
	}
}`)
	typed := func(typ any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"exp": time.Now().Add(time.Hour).Unix(), "sse": sseClaim([]string{"news"}, nil)})
		if typ == nil {
			delete(tok.Header, "typ")
		} else {
			tok.Header["typ"] = typ
		}
		s, err := tok.SignedString([]byte(jwtTestSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		typ    any
		status int
	}{
		{nil, 200},
		{"JWT", 200},
		{"jwt", 200},
		{"at+jwt", 200},
		{"AT+JWT", 200},
		{"application/at+jwt", 200},
		{"Application/JWT", 200},
		{"logout+jwt", 401},
		{"secevent+jwt", 401},
		{"dpop+jwt", 401},
		{"application/logout+jwt", 401},
		{"JOSE", 401},
		{"", 401},
		{42, 401},
	} {
		t.Run(fmt.Sprint(c.typ), func(t *testing.T) {
			resp := doAuth(t, http.MethodGet, tc.URL+"/events?topic=news", "", "", bearer(typed(c.typ)))
			if resp.Status != c.status {
				t.Fatalf("typ %v: status %d, want %d: %s", c.typ, resp.Status, c.status, resp.Body)
			}
			if c.status == 401 {
				challenge := resp.Header.Get("WWW-Authenticate")
				if !strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, "token type is not accepted") {
					t.Errorf("WWW-Authenticate %q, want invalid_token naming the token type", challenge)
				}
			}
		})
	}
}

// TestJWTAnonymousNotGranted checks the status of a refused request (SPEC
// §11): one that presented no credentials gets a 401 with a Bearer
// challenge, so the client knows a token would help; one whose token does
// not grant enough gets a 403.
func TestJWTAnonymousNotGranted(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse /events {
		hub jwt-anonymous
		jwt {
			key `+jwtTestSecret+`
		}
		subscribe_allow public/**
		publish_allow public/**
		heartbeat off
	}
}`)
	reader := bearer(hsToken(t, jwt.MapClaims{"sse": sseClaim([]string{"news"}, []string{"news"})}))
	for _, c := range []struct {
		name   string
		method string
		query  string // GET query, or POST form body
		header http.Header
		status int
	}{
		{"anonymous, granted topic", "GET", "topic=public/a", nil, 200},
		{"anonymous, topic not granted", "GET", "topic=private", nil, 401},
		{"anonymous, granted and not granted", "GET", "topic=public/a&topic=private", nil, 401},
		{"anonymous publish, granted topic", "POST", "topic=public/a&data=x", nil, 200},
		{"anonymous publish, topic not granted", "POST", "topic=private&data=x", nil, 401},
		{"token, topic not granted", "GET", "topic=private", reader, 403},
		{"token publish, topic not granted", "POST", "topic=private&data=x", reader, 403},
		{"token, its own topic", "GET", "topic=news", reader, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			var resp authResponse
			if c.method == "GET" {
				resp = doAuth(t, "GET", tc.URL+"/events?"+c.query, "", "", c.header)
			} else {
				resp = doAuth(t, "POST", tc.URL+"/events", "application/x-www-form-urlencoded", c.query, c.header)
			}
			if resp.Status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			switch {
			case c.status == 401 && challenge != "Bearer":
				t.Errorf("WWW-Authenticate %q, want Bearer", challenge)
			case c.status == 403 && challenge != "":
				t.Errorf("WWW-Authenticate %q on a 403", challenge)
			}
			if c.status >= 400 && !strings.Contains(resp.Body, "not allowed") {
				t.Errorf("message %q, want it to say what is not allowed", resp.Body)
			}
		})
	}
}

func TestJWTTokenNotLogged(t *testing.T) {
	// Plain log files: a rolling one leaves its goroutine behind.
	// An inline key would be in the config, which Caddy logs at debug
	// level; {env.*} keeps it out, as the README advises.
	t.Setenv("SSE_TEST_JWT_KEY", jwtTestSecret)
	logDir := t.TempDir()
	errorLog := filepath.Join(logDir, "caddy.log")
	accessLog := filepath.Join(logDir, "access.log")
	tc := startCaddy(t, `{
	admin off
	persist_config off
	storage file_system `+testStorage(t)+`
	skip_install_trust
	log {
		output file `+errorLog+` {
			roll_disabled
		}
		level DEBUG
	}
}
http://127.0.0.1:{PORT} {
	log {
		output file `+accessLog+` {
			roll_disabled
		}
		format filter {
			request>uri query {
				delete token
			}
			request>headers>Referer query {
				delete token
			}
		}
	}
	sse /events {
		hub jwt-logs
		jwt {
			key {env.SSE_TEST_JWT_KEY}
		}
		heartbeat off
	}
}`)
	good := hsToken(t, jwt.MapClaims{"sub": "alice", "sse": sseClaim([]string{"news"}, []string{"news"})})
	expired := hsToken(t, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()})
	for _, tok := range []string{good, expired} {
		doAuth(t, "GET", tc.URL+"/events?topic=news&token="+tok, "", "", nil)
		doAuth(t, "GET", tc.URL+"/events?topic=news", "", "", bearer(tok))
		doAuth(t, "GET", tc.URL+"/events?topic=news", "", "", http.Header{"Cookie": {"sse_token=" + tok}})
		doAuth(t, "POST", tc.URL+"/events?token="+tok, "application/x-www-form-urlencoded", "topic=news&data=x", nil)
		// A page whose URL holds the token names it in the Referer.
		doAuth(t, "GET", tc.URL+"/events?topic=news", "", "", http.Header{"Referer": {"https://app.example.com/page?token=" + tok}})
	}
	doAuth(t, "GET", tc.URL+"/events?topic=news", "", "", http.Header{"Authorization": {"Bearer " + good, "Bearer " + expired}})
	// The access log entry of the last request is written once the
	// response is done; a final request whose entry we wait for marks
	// that the entries of all earlier ones are in the file.
	doAuth(t, "GET", tc.URL+"/marker", "", "", nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(accessLog)
		if strings.Contains(string(b), "/marker") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the access log never showed the marker request")
		}
		time.Sleep(5 * time.Millisecond) // polling a file, not waiting for an event
	}
	for _, path := range []string{errorLog, accessLog} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{good, expired} {
			sig := tok[strings.LastIndexByte(tok, '.')+1:]
			if strings.Contains(string(b), sig) {
				t.Errorf("%s holds a token", filepath.Base(path))
			}
		}
		if strings.Contains(string(b), jwtTestSecret) {
			t.Errorf("%s holds the secret:\n%s", filepath.Base(path), b)
		}
	}
	if b, _ := os.ReadFile(accessLog); !strings.Contains(string(b), "/events") {
		t.Fatalf("the access log holds no request to /events; the test checks nothing:\n%s", b)
	}
}
