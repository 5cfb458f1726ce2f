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
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-sse/caddy-sse/internal/ssetest/caddytest"
)

// Mercure options outside a mercure block, or mixed with native
// authorization, are config errors naming the problem.
func TestMercureConfigErrors(t *testing.T) {
	tests := map[string]string{
		"publisher_jwt without mercure": "sse {\n\t\t\tpublisher_jwt k\n\t\t}",
		"anonymous with an argument":    "sse {\n\t\t\tmercure\n\t\t\tanonymous yes\n\t\t}",
		"publisher_jwt without a key":   "sse {\n\t\t\tmercure\n\t\t\tpublisher_jwt\n\t\t}",
		"unknown algorithm":             "sse {\n\t\t\tmercure\n\t\t\tpublisher_jwt k XX256\n\t\t}",
		"RS256 key that is not PEM":     "sse {\n\t\t\tmercure\n\t\t\tpublisher_jwt k RS256\n\t\t}",
		"mixed with subscribe_allow":    "sse {\n\t\t\tmercure\n\t\t\tsubscribe_allow **\n\t\t}",
		"redis transport":               "sse {\n\t\t\tmercure\n\t\t\ttransport redis redis://127.0.0.1:1\n\t\t}",
	}
	tc := caddytest.Start(t, ":{PORT} {\n\trespond ok\n}\n")
	for name, block := range tests {
		err := tc.TryLoad(":{PORT} {\n\troute /.well-known/mercure {\n\t\t" + block + "\n\t}\n}\n")
		if err == nil {
			t.Errorf("%s: config loaded", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

// RS256: the key is the publisher's PEM public key.
func TestMercureRS256(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSE_TEST_MERCURE_PUB", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	tc := caddytest.Start(t, `:{PORT} {
	route /.well-known/mercure {
		sse {
			mercure
			publisher_jwt {env.SSE_TEST_MERCURE_PUB} RS256
			anonymous
		}
	}
}
`)
	sign := func(m jwt.SigningMethod, key any, exp time.Duration) string {
		claims := jwt.MapClaims{"mercure": map[string]any{"publish": []string{"*"}}}
		if exp != 0 {
			claims["exp"] = time.Now().Add(exp).Unix()
		}
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := tc.Subscribe(mercureSubscribeURL("https://example.com/books/1"))
	if status, body := mercurePublish(tc, sign(jwt.SigningMethodRS256, priv, time.Hour), "topic", "https://example.com/books/1", "data", "signed"); status != http.StatusOK {
		t.Fatalf("RS256 publish: %d %s", status, body)
	}
	if ev := s.Next(5 * time.Second); ev.Data != "signed" {
		t.Errorf("got %+v", ev)
	}
	for name, tok := range map[string]string{
		"expired":             sign(jwt.SigningMethodRS256, priv, -time.Hour),
		"HS256 with the PEM":  sign(jwt.SigningMethodHS256, []byte(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))), 0),
		"RS512 (not the alg)": sign(jwt.SigningMethodRS512, priv, 0),
	} {
		if status, _ := mercurePublish(tc, tok, "topic", "x", "data", "no"); status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, status)
		}
	}
}

// A publisher-supplied id is the update's id on the wire, for Mercure and
// native subscribers, and resumable.
func TestMercurePublisherID(t *testing.T) {
	tc := startMercure(t)
	pub := mercureJWT(t, mercureSecret, map[string]any{"publish": []string{"*"}})
	s := tc.Subscribe(mercureSubscribeURL("books/1"))
	native := tc.Subscribe("/events?topic=books/1")
	status, id := mercurePublish(tc, pub, "topic", "books/1", "id", "urn:uuid:1234", "data", "first")
	if status != http.StatusOK {
		t.Fatalf("publish: %d %s", status, id)
	}
	if id != "urn:uuid:1234" {
		t.Fatalf("publish answered id %q, want the publisher's urn:uuid:1234", id)
	}
	if ev := s.Next(5 * time.Second); ev.ID != id {
		t.Errorf("Mercure subscriber got id %q, want %q", ev.ID, id)
	}
	if ev := native.Next(5 * time.Second); ev.ID != id {
		t.Errorf("native subscriber got id %q, want %q", ev.ID, id)
	}
	_, next := mercurePublish(tc, pub, "topic", "books/1", "data", "second")
	resumed := tc.Subscribe(mercureSubscribeURL("books/1") + "&lastEventID=" + id)
	if ev := resumed.Next(5 * time.Second); ev.ID != next || ev.Data != "second" {
		t.Errorf("resume after the publisher's id got %+v", ev)
	}
}
