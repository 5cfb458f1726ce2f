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
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// JWTConfig verifies JSON Web Tokens whose claims grant topics. Exactly
// one of Key, KeyFile and JWKSURL gives the verification key.
type JWTConfig struct {
	// Key is the shared secret of an HMAC algorithm (HS256, HS384,
	// HS512), at least as long as the hash: 32, 48 or 64 bytes. {env.*}
	// placeholders are resolved at provision. Default: none.
	Key string `json:"key,omitempty"`

	// KeyFile is the path of a PEM file holding an RSA, ECDSA or Ed25519
	// public key (PKIX, PKCS #1 or a certificate). Default: none.
	KeyFile string `json:"key_file,omitempty"`

	// Alg pins the signature algorithm: HS256, HS384, HS512, RS256,
	// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA. It
	// must fit the key. Tokens signed with any other algorithm, and
	// "none", are rejected. Default: HS256 with key; from the key type
	// with key_file (RS256, ES256/ES384/ES512 by curve, EdDSA); with
	// jwks_url, any asymmetric algorithm that fits the token's key.
	Alg string `json:"alg,omitempty"`

	// JWKSURL is the https URL of a JSON Web Key Set (plain http only on
	// loopback). The set is fetched in the background: first when a token
	// comes (never at provision), then every hour, and for a token whose
	// kid it does not hold at most once per 10 seconds (one extra fetch
	// may be made at once). A token whose key the set holds never waits
	// for a fetch; one with another kid waits at most 2 seconds. Keys the
	// set holds but cannot be used are logged once. Default: none.
	JWKSURL string `json:"jwks_url,omitempty"`

	// Issuer, when set, must equal the token's iss claim. Default: none
	// (not checked).
	Issuer string `json:"issuer,omitempty"`

	// Audience, when set, must be among the token's aud claim. Default:
	// none (not checked).
	Audience string `json:"audience,omitempty"`

	// Leeway is the clock skew allowed when checking exp, nbf and iat; a
	// stream also ends this long after its token's exp. Default: 0s.
	Leeway caddy.Duration `json:"leeway,omitempty"`
}

// Limits of token verification.
const maxTokenLen = 8 << 10

// tokenClaims are the claims of a token: the registered ones plus the
// grants under "sse".
type tokenClaims struct {
	jwt.RegisteredClaims
	SSE struct {
		Subscribe []string `json:"subscribe"`
		Publish   []string `json:"publish"`
	} `json:"sse"`
}

// verifiedToken is what a valid token tells about a request.
type verifiedToken struct {
	subject   string
	subscribe []string
	publish   []string
	expires   time.Time // exp plus leeway
}

// tokenVerifier checks tokens against one jwt config.
type tokenVerifier struct {
	parser  *jwt.Parser
	algs    []string // the pinned algorithms
	leeway  time.Duration
	keyfunc jwt.Keyfunc // for a key or key_file
	jwks    *jwksKeys   // for a jwks_url
}

var hmacMinLen = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// newTokenVerifier checks a jwt config and prepares its verifier. It does
// file I/O for key_file but never network I/O; the logger tells about the
// key set of a jwks_url.
func newTokenVerifier(ctx context.Context, cfg *JWTConfig, logger *zap.Logger) (*tokenVerifier, error) {
	repl := caddy.NewReplacer()
	key := repl.ReplaceKnown(cfg.Key, "")
	keyFile := repl.ReplaceKnown(cfg.KeyFile, "")
	jwksURL := repl.ReplaceKnown(cfg.JWKSURL, "")
	issuer := repl.ReplaceKnown(cfg.Issuer, "")
	audience := repl.ReplaceKnown(cfg.Audience, "")
	n := 0
	for _, s := range []string{cfg.Key, cfg.KeyFile, cfg.JWKSURL} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("jwt: give exactly one of key, key_file and jwks_url")
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("jwt: leeway must not be negative")
	}
	alg := cfg.Alg
	if alg != "" && hmacMinLen[alg] == 0 && !slices.Contains(asymmetricAlgs, alg) {
		return nil, fmt.Errorf("jwt: unknown alg %q", alg)
	}
	v := &tokenVerifier{leeway: time.Duration(cfg.Leeway)}
	var algs []string
	switch {
	case cfg.Key != "":
		if key == "" {
			return nil, errors.New("jwt: key is empty (is its environment variable set?)")
		}
		if alg == "" {
			alg = "HS256"
		}
		minLen := hmacMinLen[alg]
		if minLen == 0 {
			return nil, fmt.Errorf("jwt: key is a shared secret, so alg must be HS256, HS384 or HS512, not %s; use key_file for a public key", alg)
		}
		if len(key) < minLen {
			return nil, fmt.Errorf("jwt: key is too short for %s: want at least %d bytes", alg, minLen)
		}
		secret := []byte(key)
		v.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		algs = []string{alg}
	case cfg.KeyFile != "":
		pub, err := readPublicKey(keyFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: key_file %s: %v", keyFile, err)
		}
		fits := algsFor(pub)
		if len(fits) == 0 {
			return nil, fmt.Errorf("jwt: key_file %s: unsupported key type %T", keyFile, pub)
		}
		if alg == "" {
			alg = fits[0]
		} else if !slices.Contains(fits, alg) {
			return nil, fmt.Errorf("jwt: alg %s does not fit the key in key_file (want one of %s)", alg, strings.Join(fits, ", "))
		}
		v.keyfunc = func(*jwt.Token) (any, error) { return pub, nil }
		algs = []string{alg}
	default:
		u, err := url.Parse(jwksURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			return nil, errors.New("jwt: jwks_url must be an https URL (http only on loopback)")
		}
		if alg != "" && hmacMinLen[alg] != 0 {
			return nil, fmt.Errorf("jwt: alg %s needs a shared secret; a key set holds public keys", alg)
		}
		algs = asymmetricAlgs
		if alg != "" {
			algs = []string{alg}
		}
		v.jwks = newJWKSKeys(ctx, u.String(), logger)
	}
	v.algs = algs
	opts := []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.leeway),
	}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// verify checks a token and returns what it grants. The error is safe to
// show to the client: it never holds the token or a key.
func (v *tokenVerifier) verify(ctx context.Context, raw string) (*verifiedToken, error) {
	if len(raw) > maxTokenLen {
		return nil, errors.New("token is too long")
	}
	var claims tokenClaims
	// The algorithm is checked here rather than with jwt.WithValidMethods
	// so that the client learns what was wrong; the key function runs
	// before any signature is checked.
	_, err := v.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if !slices.Contains(v.algs, t.Method.Alg()) {
			return nil, errAlgNotAllowed
		}
		if !typAccepted(t.Header["typ"]) {
			return nil, errTypNotAllowed
		}
		if v.jwks != nil {
			return v.jwks.key(ctx, t)
		}
		return v.keyfunc(t)
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
			switch {
			case claims.ExpiresAt == nil:
				return nil, errors.New("token has no exp claim")
			case claims.Issuer == "":
				return nil, errors.New("token has no iss claim")
			case len(claims.Audience) == 0:
				return nil, errors.New("token has no aud claim")
			}
		}
		return nil, describeTokenError(err)
	}
	for _, list := range [][]string{claims.SSE.Subscribe, claims.SSE.Publish} {
		for _, sel := range list {
			if hub.ValidateSelector(sel) != nil {
				return nil, errors.New("the sse claim holds an invalid selector")
			}
		}
	}
	return &verifiedToken{
		subject:   claims.Subject,
		subscribe: claims.SSE.Subscribe,
		publish:   claims.SSE.Publish,
		expires:   claims.ExpiresAt.Add(v.leeway),
	}, nil
}

// errAlgNotAllowed is a token signed with an algorithm that is not pinned.
var errAlgNotAllowed = errors.New("token signing algorithm is not allowed")

// errTypNotAllowed is a token explicitly typed as something other than an
// access token.
var errTypNotAllowed = errors.New("token type is not accepted: want typ JWT or at+jwt")

// typAccepted reports whether a token's typ header says it may be used
// here. Explicit typing (RFC 8725 §3.11) keeps other JWTs the issuer
// signs with the same key, such as logout (logout+jwt), security event
// (secevent+jwt) or DPoP proof (dpop+jwt) tokens, from passing as access
// tokens. typ is a media type, so it is compared case-insensitively and
// may carry the "application/" prefix (RFC 7515 §4.1.9).
func typAccepted(typ any) bool {
	if typ == nil {
		return true
	}
	s, ok := typ.(string)
	if !ok {
		return false
	}
	s = strings.ToLower(s)
	s = strings.TrimPrefix(s, "application/")
	return s == "jwt" || s == "at+jwt"
}

// errUnknownKey is a token whose kid the key set does not hold.
var errUnknownKey = errors.New("no key in the key set for the token's kid")

// describeTokenError turns a verification error into a short description
// that names the problem and nothing else.
func describeTokenError(err error) error {
	for _, c := range []struct {
		target error
		desc   string
	}{
		{errAlgNotAllowed, errAlgNotAllowed.Error()},
		{errTypNotAllowed, errTypNotAllowed.Error()},
		{errUnknownKey, errUnknownKey.Error()},
		{errJWKSUnavailable, errJWKSUnavailable.Error()},
		{jwt.ErrTokenMalformed, "token is malformed"},
		{jwt.ErrTokenUnverifiable, "token cannot be verified with the configured key and algorithm"},
		{jwt.ErrTokenSignatureInvalid, "token signature is invalid"},
		{jwt.ErrTokenRequiredClaimMissing, "token lacks a required claim"},
		{jwt.ErrTokenExpired, "token is expired"},
		{jwt.ErrTokenNotValidYet, "token is not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "token is issued in the future"},
		{jwt.ErrTokenInvalidIssuer, "token has the wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "token has the wrong audience"},
		{jwt.ErrTokenInvalidClaims, "token claims are invalid"},
	} {
		if errors.Is(err, c.target) {
			return errors.New(c.desc)
		}
	}
	return errors.New("token is invalid")
}

// readPublicKey reads a PEM public key: PKIX, PKCS #1 RSA or a certificate.
func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.New("cannot read the file")
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
}

// algsFor lists the algorithms a public key verifies, preferred first.
func algsFor(pub crypto.PublicKey) []string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}
		case elliptic.P384():
			return []string{"ES384"}
		case elliptic.P521():
			return []string{"ES512"}
		}
	case ed25519.PublicKey:
		return []string{"EdDSA"}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
