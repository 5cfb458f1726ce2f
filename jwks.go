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
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Limits of a key set: its size, its age, and how often a token with an
// unknown kid may make us fetch it again.
const (
	maxJWKSBody      = 1 << 20
	jwksMaxAge       = time.Hour
	jwksRefreshEvery = 10 * time.Second
	jwksRefreshBurst = 2
	jwksFetchTimeout = 10 * time.Second
)

// errJWKSUnavailable is a key set that could not be fetched.
var errJWKSUnavailable = errors.New("the key set is unavailable")

// jwksKeys is a JSON Web Key Set fetched lazily from a URL. Fetches run
// under the Caddy context, one at a time, and are rate-limited so that
// tokens with made-up kids cannot make us hammer the key server.
type jwksKeys struct {
	ctx     context.Context
	url     string
	client  *http.Client
	sem     chan struct{} // held while fetching or reading keys
	limiter *rate.Limiter

	mu      sync.Mutex
	keys    map[string]jwk
	fetched time.Time
}

type jwk struct {
	key crypto.PublicKey
	alg string
}

func newJWKSKeys(ctx context.Context, u string) *jwksKeys {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &jwksKeys{
		ctx:     ctx,
		url:     u,
		client:  &http.Client{Transport: transport, Timeout: jwksFetchTimeout},
		sem:     make(chan struct{}, 1),
		limiter: rate.NewLimiter(rate.Every(jwksRefreshEvery), jwksRefreshBurst),
	}
}

// close releases the key set's idle connections.
func (k *jwksKeys) close() { k.client.CloseIdleConnections() }

// key finds the key for a token, fetching the set when it has none yet,
// is old, or lacks the token's kid, as far as the rate limit allows.
func (k *jwksKeys) key(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	select {
	case k.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, errJWKSUnavailable
	}
	defer func() { <-k.sem }()
	k.mu.Lock()
	keys, fetched := k.keys, k.fetched
	k.mu.Unlock()
	key, found := lookupJWK(keys, kid)
	if keys == nil || time.Since(fetched) > jwksMaxAge || !found {
		if k.limiter.Allow() {
			if err := k.fetch(); err == nil {
				k.mu.Lock()
				keys = k.keys
				k.mu.Unlock()
				key, found = lookupJWK(keys, kid)
			}
		}
	}
	if keys == nil {
		return nil, errJWKSUnavailable
	}
	if !found {
		return nil, errUnknownKey
	}
	alg := t.Method.Alg()
	if (key.alg != "" && key.alg != alg) || !slices.Contains(algsFor(key.key), alg) {
		return nil, errAlgNotAllowed
	}
	return key.key, nil
}

// lookupJWK finds a key by kid; a token without kid matches a set of one.
func lookupJWK(keys map[string]jwk, kid string) (jwk, bool) {
	if kid == "" {
		if len(keys) == 1 {
			for _, key := range keys {
				return key, true
			}
		}
		return jwk{}, false
	}
	key, ok := keys[kid]
	return key, ok
}

// fetch replaces the key set with the one served at the URL.
func (k *jwksKeys) fetch() error {
	ctx, cancel := context.WithTimeout(k.ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBody)).Decode(&set); err != nil {
		return err
	}
	keys := make(map[string]jwk, len(set.Keys))
	for _, raw := range set.Keys {
		kid, key, err := parseJWK(raw)
		if err == nil {
			keys[kid] = key
		}
	}
	k.mu.Lock()
	k.keys, k.fetched = keys, time.Now()
	k.mu.Unlock()
	return nil
}

// parseJWK reads one public signing key of a key set (RFC 7517, 7518,
// 8037). Symmetric keys and keys for encryption are skipped.
func parseJWK(raw []byte) (string, jwk, error) {
	var j struct {
		Kty, Kid, Alg, Use, Crv, N, E, X, Y string
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return "", jwk{}, err
	}
	if j.Use != "" && j.Use != "sig" {
		return "", jwk{}, errors.New("not a signing key")
	}
	b64 := base64.RawURLEncoding.DecodeString
	var key crypto.PublicKey
	switch j.Kty {
	case "RSA":
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return "", jwk{}, errors.New("bad RSA key")
		}
		key = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve, ok := curves[j.Crv]
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if !ok || err1 != nil || err2 != nil {
			return "", jwk{}, errors.New("bad EC key")
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return "", jwk{}, errors.New("bad EC key")
		}
		uncompressed := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, uncompressed)
		if err != nil {
			return "", jwk{}, err
		}
		key = pub
	case "OKP":
		x, err := b64(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return "", jwk{}, errors.New("bad OKP key")
		}
		key = ed25519.PublicKey(x)
	default:
		return "", jwk{}, errors.New("unsupported key type")
	}
	return j.Kid, jwk{key: key, alg: j.Alg}, nil
}
