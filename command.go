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
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"
)

// Exit codes of the sse commands.
const (
	exitOK    = 0
	exitError = 1 // the request failed or was refused
	exitUsage = 2 // wrong flags
)

// sseCommand is `caddy sse`, whose subcommands mint tokens and publish
// through the admin API.
func sseCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "sse",
		Usage: "token|publish [flags]",
		Short: "Mints tokens for and publishes to the sse module's hubs",
		Long: `
Tools for the sse module (github.com/caddy-sse/caddy-sse):

  caddy sse token    prints a signed JWT granting topics
  caddy sse publish  publishes an event through the admin API

Run "caddy sse <command> --help" for their flags.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(tokenCommand(), publishCommand())
		},
	}
}

// plainErrors runs f as cmd's action and reports errors as one plain
// line on standard error, "caddy sse <cmd>: <error>", where Caddy's own
// wrapper would write a structured log line with escaped quotes. Wrong
// flags, values that do not parse (--ttl 5), extra arguments and f's
// usage errors exit with status 2, other failures with 1.
func plainErrors(cmd *cobra.Command, f caddycmd.CommandFunc) {
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	fail := func(code int, err error) error {
		fmt.Fprintf(cmd.ErrOrStderr(), "caddy %s: %v\n", cmd.CommandPath()[len("caddy "):], err)
		if code == exitUsage {
			fmt.Fprintf(cmd.ErrOrStderr(), "Run 'caddy %s --help' for usage.\n", cmd.CommandPath()[len("caddy "):])
		}
		return exitWith(code)
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fail(exitUsage, err) })
	args := cmd.Args
	cmd.Args = func(c *cobra.Command, a []string) error {
		if args == nil {
			return nil
		}
		if err := args(c, a); err != nil {
			return fail(exitUsage, err)
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		code, err := f(caddycmd.Flags{FlagSet: c.Flags()})
		if err != nil {
			return fail(max(code, exitError), err)
		}
		return exitWith(code)
	}
}

// errFailed ends a command that has reported its error: cobra, silenced,
// prints nothing of it, and Caddy exits with status 1.
var errFailed = errors.New("failed")

// exitWith returns what makes Caddy exit with code: Caddy's command
// wrapper carries a status above 1 to its exit (and logs nothing when
// there is no error); 1 is any other error.
func exitWith(code int) error {
	switch code {
	case exitOK:
		return nil
	case exitError:
		return errFailed
	}
	return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return code, nil })(new(cobra.Command), nil)
}

func tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token --key <secret>|--key-file <pem> [--sub <id>] [--subscribe <selector>]... [--publish <selector>]... [--ttl <duration>]",
		Short: "Prints a signed JWT granting topics",
		Long: `
Prints a JSON Web Token that the sse directive's jwt block accepts, with
the claims {"sse":{"subscribe":[...],"publish":[...]}}, sub, iat, exp and,
when given, iss and aud.

The key is a shared secret (--key, for HS256/HS384/HS512: at least 32, 48
or 64 bytes) or a PEM private key (--key-file: RSA for RS*/PS*, ECDSA for
ES*, Ed25519 for EdDSA; a file holding a secret works for HS* too). --alg
defaults to HS256 with --key and to the key's kind with --key-file.

Exit status: 0 on success, 1 when the key cannot be used, 2 on wrong flags.

Example (a shell; the secret is made once and given to Caddy as well):
  export SSE_JWT_KEY="$(head -c 32 /dev/urandom | base64)"
  caddy sse token --key "$SSE_JWT_KEY" --sub 42 --subscribe 'users/42/**' --ttl 1h`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("key", "", "shared secret for HS256, HS384 or HS512")
	f.String("key-file", "", "PEM file of the private key (or of a shared secret)")
	f.String("alg", "", "signature algorithm (default: HS256 for --key, from the key for --key-file)")
	f.String("sub", "", "subject: the subscriber identity")
	f.StringArray("subscribe", nil, "selector the token may subscribe to (repeatable)")
	f.StringArray("publish", nil, "selector the token may publish to (repeatable)")
	f.Duration("ttl", time.Hour, "lifetime of the token")
	f.String("issuer", "", "iss claim")
	f.String("audience", "", "aud claim")
	plainErrors(cmd, func(fl caddycmd.Flags) (int, error) {
		token, code, err := signToken(fl, time.Now())
		if err != nil {
			return code, err
		}
		fmt.Println(token)
		return exitOK, nil
	})
	return cmd
}

// signToken signs a token from the token command's flags.
func signToken(fl caddycmd.Flags, now time.Time) (string, int, error) {
	secret, keyFile, alg := fl.String("key"), fl.String("key-file"), fl.String("alg")
	if (secret == "") == (keyFile == "") {
		return "", exitUsage, errors.New("give exactly one of --key and --key-file")
	}
	ttl := fl.Duration("ttl")
	if ttl <= 0 {
		return "", exitUsage, errors.New("--ttl must be positive")
	}
	subscribe, _ := fl.GetStringArray("subscribe")
	publish, _ := fl.GetStringArray("publish")
	for _, sel := range append(append([]string(nil), subscribe...), publish...) {
		if err := hub.ValidateSelector(sel); err != nil {
			return "", exitUsage, fmt.Errorf("selector %q: %v", sel, err)
		}
	}

	var key any
	if secret != "" {
		key = []byte(secret)
	} else {
		pemBytes, err := os.ReadFile(keyFile)
		if err != nil {
			return "", exitError, err
		}
		key = parsePrivateKey(pemBytes)
	}
	if alg == "" {
		alg = defaultAlgFor(key)
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil || alg == "none" {
		return "", exitUsage, fmt.Errorf("unknown --alg %q", alg)
	}
	if b, ok := key.([]byte); ok {
		if minLen := hmacMinLen[alg]; minLen == 0 {
			return "", exitUsage, fmt.Errorf("--alg %s needs a private key file; a secret signs HS256, HS384 or HS512", alg)
		} else if len(b) < minLen {
			return "", exitUsage, fmt.Errorf("the secret must be at least %d bytes for %s", minLen, alg)
		}
	}

	claims := tokenClaims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   fl.String("sub"),
		Issuer:    fl.String("issuer"),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	if aud := fl.String("audience"); aud != "" {
		claims.Audience = jwt.ClaimStrings{aud}
	}
	claims.SSE.Subscribe = nonNil(subscribe)
	claims.SSE.Publish = nonNil(publish)
	signed, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		return "", exitError, fmt.Errorf("signing with %s: %v", alg, err)
	}
	return signed, exitOK, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// parsePrivateKey returns the private key of a PEM file, or its bytes,
// trimmed, as a shared secret when they are not a PEM private key.
func parsePrivateKey(pemBytes []byte) any {
	for _, parse := range []func([]byte) (any, error){
		func(b []byte) (any, error) { return jwt.ParseRSAPrivateKeyFromPEM(b) },
		func(b []byte) (any, error) { return jwt.ParseECPrivateKeyFromPEM(b) },
		func(b []byte) (any, error) { return jwt.ParseEdPrivateKeyFromPEM(b) },
	} {
		if key, err := parse(pemBytes); err == nil {
			return key
		}
	}
	return bytes.TrimSpace(pemBytes)
}

// defaultAlgFor picks the algorithm the verifier picks for the matching
// public key.
func defaultAlgFor(key any) string {
	if signer, ok := key.(crypto.Signer); ok {
		if algs := algsFor(signer.Public()); len(algs) > 0 {
			return algs[0]
		}
	}
	return "HS256"
}

func publishCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "publish --topic <topic> [--topic <topic>]... [--data <data>] [--event <type>] [--hub <name>] [--address <admin>]",
		Short: "Publishes an event through the admin API",
		Long: `
Publishes one event to a hub through Caddy's admin API (POST /sse/publish)
and prints its id. The data comes from --data or, without it, from
standard input. A retried publish with the same --idempotency-key is
stored once and prints the original id.

Exit status: 0 on success, 1 when the publish failed or was refused, 2 on
wrong flags.

Examples (against Caddyfile.example, whose hub is "example" and admin
endpoint localhost:2019):
  caddy sse publish --hub example --topic news --data 'hello world'
  date | caddy sse publish --hub example --topic news/clock --event log.info`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("address", "localhost:2019", "address of Caddy's admin endpoint")
	f.String("hub", defaultHub, "hub to publish to")
	f.StringArray("topic", nil, "topic of the event (repeatable)")
	f.String("data", "", "data of the event (default: read from standard input)")
	f.String("event", "", "event type (default: message)")
	f.String("idempotency-key", "", "key that makes a retried publish store the event once")
	plainErrors(cmd, func(fl caddycmd.Flags) (int, error) {
		topics, _ := fl.GetStringArray("topic")
		if len(topics) == 0 {
			return exitUsage, errors.New("give at least one --topic")
		}
		data := fl.String("data")
		if !fl.Changed("data") {
			b, err := io.ReadAll(os.Stdin)
			if err != nil {
				return exitError, fmt.Errorf("reading data from standard input: %v", err)
			}
			data = strings.TrimSuffix(string(b), "\n")
		}
		body, err := json.Marshal(struct {
			Hub    string   `json:"hub"`
			Topics []string `json:"topics"`
			Event  string   `json:"event,omitempty"`
			Data   string   `json:"data"`
		}{fl.String("hub"), topics, fl.String("event"), data})
		if err != nil {
			return exitError, err
		}
		header := http.Header{}
		if key := fl.String("idempotency-key"); key != "" {
			header.Set("Idempotency-Key", key)
		}
		resp, err := caddycmd.AdminAPIRequest(fl.String("address"), http.MethodPost, "/sse/publish", header, bytes.NewReader(body))
		if err != nil {
			return exitError, fmt.Errorf("publishing: %v", err)
		}
		defer resp.Body.Close()
		var answer struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || answer.ID == "" {
			return exitError, fmt.Errorf("publishing: unexpected answer from the admin API (%v)", err)
		}
		fmt.Println(answer.ID)
		return exitOK, nil
	})
	return cmd
}
