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

package mercure

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func sign(t *testing.T, alg string, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifierHS256(t *testing.T) {
	v, err := NewVerifier("!ChangeThisMercureHubJWTSecretKey!", "")
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("!ChangeThisMercureHubJWTSecretKey!")
	c, err := v.Verify(sign(t, "HS256", key, jwt.MapClaims{"mercure": map[string]any{"publish": []string{"*"}}}))
	if err != nil || len(c.Mercure.Publish) != 1 || c.Mercure.Publish[0] != "*" {
		t.Fatalf("token without exp: %v %+v", err, c)
	}
	for name, tok := range map[string]string{
		"expired":   sign(t, "HS256", key, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}),
		"wrong key": sign(t, "HS256", []byte("another key of enough length!!!!"), jwt.MapClaims{}),
		"other alg": sign(t, "HS512", key, jwt.MapClaims{}),
		"junk":      "not.a.token",
		"none":      "eyJhbGciOiJub25lIn0.e30.",
	} {
		if _, err := v.Verify(tok); err == nil {
			t.Errorf("%s token accepted", name)
		}
	}
	if _, err := NewVerifier("k", "XX1"); err == nil {
		t.Error("unknown algorithm accepted")
	}
	if _, err := NewVerifier("not pem", "RS256"); err == nil {
		t.Error("RS256 with a non-PEM key accepted")
	}
}
