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
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Limits of a key set: its size, its age, how often a token with an
// unknown kid may make us fetch it again, and how long such a token waits.
const (
	maxJWKSBody      = 1 << 20
	jwksMaxAge       = time.Hour
	jwksRefreshEvery = 10 * time.Second
	jwksRefreshBurst = 2
	jwksFetchTimeout = 10 * time.Second
	// jwksWaitMax bounds how long a token waits for a fetch: one whose kid
	// the set lacks, or any token before the first fetch has finished. A
	// slow key server costs such a token this much and no more; the fetch
	// goes on in the background and later tokens use its result.
	jwksWaitMax = 2 * time.Second
)

// errJWKSUnavailable is a key set that could not be fetched.
var errJWKSUnavailable = errors.New("the key set is unavailable")

// jwksKeys is a JSON Web Key Set fetched from a URL by one goroutine,
// started by the first token (never at provision, which also runs under
// caddy validate) and stopped by close. Tokens read the keys of the last
// fetch without waiting; only a token whose kid the set lacks asks for a
// fetch, rate-limited so that made-up kids cannot make us hammer the key
// server, and waits for it at most jwksWaitMax.
type jwksKeys struct {
	url     string
	client  *http.Client
	logger  *zap.Logger
	limiter *rate.Limiter
	ctx     context.Context // ends the fetcher
	cancel  context.CancelFunc
	wake    chan struct{} // buffered: a token asked for a fetch
	done    chan struct{} // closed when the fetcher has returned
	// reported holds the unusable keys of the last fetch, already logged;
	// only the fetcher touches it.
	reported map[string]struct{}

	mu       sync.Mutex
	keys     map[string]jwk // nil until a fetch succeeded
	inflight chan struct{}  // closed when the current or asked-for fetch ends; nil when none
	started  bool           // the fetcher runs, or ran
	closed   bool           // close was called: start nothing
}

type jwk struct {
	key crypto.PublicKey
	alg string
}

func newJWKSKeys(ctx context.Context, u string, logger *zap.Logger) *jwksKeys {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	ctx, cancel := context.WithCancel(ctx)
	return &jwksKeys{
		url:     u,
		client:  &http.Client{Transport: transport, Timeout: jwksFetchTimeout},
		logger:  logger,
		limiter: rate.NewLimiter(rate.Every(jwksRefreshEvery), jwksRefreshBurst),
		ctx:     ctx,
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// close stops the fetcher, waits for it and releases its connections.
func (k *jwksKeys) close() {
	k.cancel()
	k.mu.Lock()
	k.closed = true
	started := k.started
	k.mu.Unlock()
	if started {
		<-k.done
	}
	k.client.CloseIdleConnections()
}

// key finds the key for a token. A kid the set holds is answered at once,
// whatever a fetch is doing; any other waits for a fetch, within the rate
// limit and at most jwksWaitMax.
func (k *jwksKeys) key(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	k.mu.Lock()
	k.startLocked()
	keys := k.keys
	key, found := lookupJWK(keys, kid)
	var wait chan struct{}
	if !found {
		wait = k.askFetchLocked()
	}
	k.mu.Unlock()
	if wait != nil {
		timer := time.NewTimer(jwksWaitMax)
		select {
		case <-wait:
		case <-timer.C:
		case <-ctx.Done():
		case <-k.ctx.Done():
		}
		timer.Stop()
		k.mu.Lock()
		keys = k.keys
		k.mu.Unlock()
		key, found = lookupJWK(keys, kid)
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

// startLocked starts the fetcher on first use; its first fetch counts
// against the rate limit like any other a token asks for.
func (k *jwksKeys) startLocked() {
	if k.started || k.closed {
		return
	}
	k.started = true
	k.limiter.Allow()
	k.inflight = make(chan struct{})
	go k.run()
}

// askFetchLocked returns a channel closed when a fetch ends: the one under
// way, or a new one if the rate limit allows; nil when it does not.
func (k *jwksKeys) askFetchLocked() chan struct{} {
	if k.inflight != nil {
		return k.inflight
	}
	if k.closed || !k.limiter.Allow() {
		return nil
	}
	k.inflight = make(chan struct{})
	select {
	case k.wake <- struct{}{}:
	default:
	}
	return k.inflight
}

// run fetches the set at start, when a token asks, and when it is older
// than jwksMaxAge, until close.
func (k *jwksKeys) run() {
	defer close(k.done)
	ticker := time.NewTicker(jwksMaxAge)
	defer ticker.Stop()
	k.fetchAndRelease()
	for {
		select {
		case <-k.ctx.Done():
			k.mu.Lock()
			if k.inflight != nil {
				close(k.inflight)
				k.inflight = nil
			}
			k.mu.Unlock()
			return
		case <-k.wake:
		case <-ticker.C:
			k.mu.Lock()
			if k.inflight == nil {
				k.inflight = make(chan struct{})
			}
			k.mu.Unlock()
		}
		k.fetchAndRelease()
	}
}

// fetchAndRelease fetches the set and wakes the tokens waiting for it.
func (k *jwksKeys) fetchAndRelease() {
	keys, err := k.fetch()
	k.mu.Lock()
	if err == nil {
		k.keys = keys
	}
	if k.inflight != nil {
		close(k.inflight)
		k.inflight = nil
	}
	k.mu.Unlock()
	if err != nil && k.ctx.Err() == nil {
		k.logger.Warn("fetching the JWT key set failed; keeping the keys of the last fetch",
			zap.String("jwks_url", k.url), zap.Error(err))
	}
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

// fetch reads the set served at the URL. Keys it cannot use are skipped
// and logged, each once for as long as the set holds it.
func (k *jwksKeys) fetch() (map[string]jwk, error) {
	ctx, cancel := context.WithTimeout(k.ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		// The url.Error would repeat the URL, which the log has already.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBody)).Decode(&set); err != nil {
		return nil, fmt.Errorf("reading the key set: %v", err)
	}
	keys := make(map[string]jwk, len(set.Keys))
	unusable := make(map[string]struct{})
	for i, raw := range set.Keys {
		kid, key, err := parseJWK(raw)
		if err == nil {
			keys[kid] = key
			continue
		}
		// Only the kid and the reason are logged, never key material.
		seen := kid + "\x00" + err.Error()
		unusable[seen] = struct{}{}
		if _, logged := k.reported[seen]; !logged {
			k.logger.Warn("the JWT key set holds a key that cannot be used; tokens signed with it are refused",
				zap.String("jwks_url", k.url), zap.Int("index", i), zap.String("kid", kid), zap.String("reason", err.Error()))
		}
	}
	k.reported = unusable
	return keys, nil
}

// parseJWK reads one public signing key of a key set (RFC 7517, 7518,
// 8037). Symmetric keys and keys for encryption are skipped.
func parseJWK(raw []byte) (string, jwk, error) {
	var j struct {
		Kty, Kid, Alg, Use, Crv, N, E, X, Y string
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return j.Kid, jwk{}, errors.New("not a JSON Web Key")
	}
	if j.Use != "" && j.Use != "sig" {
		return j.Kid, jwk{}, errors.New("not a signing key")
	}
	b64 := base64.RawURLEncoding.DecodeString
	var key crypto.PublicKey
	switch j.Kty {
	case "RSA":
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return j.Kid, jwk{}, errors.New("bad RSA key")
		}
		key = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve, ok := curves[j.Crv]
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if !ok || err1 != nil || err2 != nil {
			return j.Kid, jwk{}, errors.New("bad EC key")
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return j.Kid, jwk{}, errors.New("bad EC key")
		}
		uncompressed := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, uncompressed)
		if err != nil {
			return j.Kid, jwk{}, err
		}
		key = pub
	case "OKP":
		x, err := b64(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return j.Kid, jwk{}, errors.New("bad OKP key")
		}
		key = ed25519.PublicKey(x)
	default:
		return j.Kid, jwk{}, fmt.Errorf("key type %q is not supported for signatures", j.Kty)
	}
	if j.Alg != "" && !slices.Contains(algsFor(key), j.Alg) {
		return j.Kid, jwk{}, fmt.Errorf("alg %q does not fit the key", j.Alg)
	}
	return j.Kid, jwk{key: key, alg: j.Alg}, nil
}
