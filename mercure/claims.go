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
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a Mercure JWT.
type Claims struct {
	Mercure struct {
		// Publish lists the selectors of the topics the bearer may
		// publish to; nil (absent) grants no publishing at all.
		Publish []string `json:"publish"`
		// Subscribe lists the selectors of the private updates the
		// bearer receives.
		Subscribe []string `json:"subscribe"`
		// Payload is data about the subscriber, for the subscription
		// events Mercure offers (not supported here yet); it is read so
		// that a token carrying it is accepted.
		Payload any `json:"payload"`
	} `json:"mercure"`
	jwt.RegisteredClaims
}

// Verifier checks tokens signed with one key and algorithm.
type Verifier struct {
	key    any
	parser *jwt.Parser
}

// maxTokenLen bounds a token, so a huge one is refused before parsing.
const maxTokenLen = 16 << 10

// NewVerifier returns a verifier for key, a shared secret for the HS
// algorithms or a PEM public key for RS, PS and ES ones. alg defaults to
// HS256, as in Mercure.
func NewVerifier(key, alg string) (*Verifier, error) {
	if alg == "" {
		alg = "HS256"
	}
	if key == "" {
		return nil, errors.New("the JWT key is empty")
	}
	v := &Verifier{parser: jwt.NewParser(jwt.WithValidMethods([]string{alg}))}
	var err error
	switch {
	case strings.HasPrefix(alg, "HS"):
		v.key = []byte(key)
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		v.key, err = jwt.ParseRSAPublicKeyFromPEM([]byte(key))
	case strings.HasPrefix(alg, "ES"):
		v.key, err = jwt.ParseECPublicKeyFromPEM([]byte(key))
	default:
		return nil, fmt.Errorf("unsupported JWT algorithm %q: use HS256, HS384, HS512, RS256…, PS256… or ES256…", alg)
	}
	if err != nil {
		// The parser's error may quote the key; say only what is wrong.
		return nil, fmt.Errorf("the JWT key is not a PEM public key for %s", alg)
	}
	if jwt.GetSigningMethod(alg) == nil {
		return nil, fmt.Errorf("unsupported JWT algorithm %q", alg)
	}
	return v, nil
}

// Verify checks raw's signature, algorithm and, when present, exp and nbf
// (Mercure does not require exp), and returns its claims. The error never
// holds the token or the key.
func (v *Verifier) Verify(raw string) (*Claims, error) {
	if len(raw) > maxTokenLen {
		return nil, errors.New("token is too long")
	}
	var c Claims
	if _, err := v.parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return v.key, nil }); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, errors.New("token is expired")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
			return nil, errors.New("token signature or algorithm is invalid")
		}
		return nil, errors.New("token is invalid")
	}
	return &c, nil
}
