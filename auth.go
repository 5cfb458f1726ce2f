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
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// errNoGrant is returned by a placeholder value that must not widen access.
var errNoGrant = errors.New("placeholder value grants nothing")

// expandGrants turns grant templates into the selectors they grant for one
// request. A template whose placeholder is unknown or empty, or whose value
// contains '/', '*' or whitespace, grants nothing: a placeholder can narrow
// a grant to one user's topics but never widen it.
func expandGrants(repl *caddy.Replacer, templates []string) []string {
	return expandGrantsFor(repl, templates, nil)
}

// expandGrantsFor is expandGrants that calls unset, when not nil, with a
// template and its placeholder that is not set at all on this request.
func expandGrantsFor(repl *caddy.Replacer, templates []string, unset func(tpl, placeholder string)) []string {
	if !slices.ContainsFunc(templates, hasPlaceholder) {
		// Nothing to expand: the templates are the grants. Capped, so
		// that appending a token's grants copies them.
		return templates[:len(templates):len(templates)]
	}
	var grants []string
	for _, tpl := range templates {
		if !hasPlaceholder(tpl) {
			grants = append(grants, tpl) // validated at provision
			continue
		}
		vet := grantValue
		if unset != nil {
			vet = func(key string, val any) (any, error) {
				if val == nil {
					unset(tpl, key)
				}
				return grantValue(key, val)
			}
		}
		sel, err := repl.ReplaceFunc(tpl, vet)
		if err != nil || hub.ValidateSelector(sel) != nil {
			continue
		}
		grants = append(grants, sel)
	}
	return grants
}

// expandGrants expands the handler's templates for a request, warning
// once per template about a placeholder that nothing set.
func (h *Handler) expandGrants(repl *caddy.Replacer, templates []string) []string {
	return expandGrantsFor(repl, templates, h.warnUnsetPlaceholder)
}

// warnUnsetPlaceholder logs, once per template and placeholder, that a
// request reached the handler with a template's placeholder not set, so
// that the template granted nothing. Whether anything can set it is not
// knowable when the config loads: an authentication handler may sit in
// this route, a parent route or another app, and a token this handler
// verifies sets {http.auth.user.id} too. So the first request shows it.
// With a jwt block, an anonymous request leaves {http.auth.user.*} unset
// by design, so those are not reported there.
func (h *Handler) warnUnsetPlaceholder(tpl, placeholder string) {
	isUser := strings.HasPrefix(placeholder, "http.auth.user.")
	if isUser && h.JWT != nil || h.unsetWarned == nil {
		return
	}
	if _, seen := h.unsetWarned.LoadOrStore(tpl+"\x00"+placeholder, true); seen {
		return
	}
	add := "a handler before sse that sets it"
	switch {
	case isUser:
		add = "basic_auth or forward_auth before sse, or a jwt block in it"
	case strings.HasPrefix(placeholder, "http.vars."):
		add = "the vars or map directive that sets it, before sse"
	}
	h.logger.Warn("a grant's placeholder is not set when requests reach this sse handler, so the grant grants nothing",
		zap.String("hub", h.Hub), zap.String("grant", tpl), zap.String("placeholder", "{"+placeholder+"}"),
		zap.String("add", add))
}

func hasPlaceholder(tpl string) bool { return strings.ContainsAny(tpl, "{}") }

func countPlaceholders(templates []string) int {
	n := 0
	for _, tpl := range templates {
		if hasPlaceholder(tpl) {
			n++
		}
	}
	return n
}

// grantValue vets one placeholder value of a grant template.
func grantValue(_ string, val any) (any, error) {
	if val == nil {
		return nil, errNoGrant
	}
	s := caddy.ToString(val)
	if s == "" || strings.ContainsAny(s, "/*") || strings.ContainsFunc(s, unicode.IsSpace) {
		return nil, errNoGrant
	}
	return s, nil
}

// allowed reports whether every topic sel can match is matched by some
// grant. A single grant usually covers sel on its own; a trailing "**" may
// also be covered piecewise (grants "a/*" and "a/*/**" together cover
// "a/**"), so it is split into "one more segment" and "two or more".
func allowed(grants []string, sel string) bool {
	maxDepth := 0
	for _, g := range grants {
		maxDepth = max(maxDepth, strings.Count(g, "/")+1)
	}
	return allowedDepth(grants, sel, maxDepth)
}

func allowedDepth(grants []string, sel string, maxDepth int) bool {
	for _, g := range grants {
		if hub.Covers(g, sel) {
			return true
		}
	}
	prefix, ok := strings.CutSuffix(sel, "**")
	if !ok || strings.Count(sel, "/") >= maxDepth {
		return false
	}
	return allowedDepth(grants, prefix+"*", maxDepth) &&
		allowedDepth(grants, prefix+"*/**", maxDepth)
}

// requestAuth is what a request proved about itself.
type requestAuth struct {
	token      *verifiedToken // nil without a token
	cookieOnly bool           // the token came from the cookie alone
	anonymous  bool           // neither a token nor a user established by Caddy
}

// authError is a refused request: its status, a message for the client
// and, for a 401, the WWW-Authenticate challenge.
type authError struct {
	status    int
	msg       string
	challenge string
}

func (e authError) Error() string { return e.msg }

// invalidToken is a 401 for a token that was presented but cannot be used.
func invalidToken(desc string) authError {
	return authError{http.StatusUnauthorized, "invalid token: " + desc,
		`Bearer error="invalid_token", error_description="` + desc + `"`}
}

// invalidRequest is a 401 for credentials sent in a way we cannot trust.
func invalidRequest(desc string) authError {
	return authError{http.StatusUnauthorized, desc,
		`Bearer error="invalid_request", error_description="` + desc + `"`}
}

// authorize authenticates a request and returns its grants for subscribe
// or publish: the handler's templates, expanded after a token's sub has
// become {http.auth.user.id}, plus the token's own grants. A presented
// token that is not valid fails the request even when the templates alone
// would allow it: credentials are never half-used.
func (h *Handler) authorize(r *http.Request, repl *caddy.Replacer, publish bool) (requestAuth, []string, error) {
	var auth requestAuth
	if h.verifier != nil {
		raw, cookieOnly, err := h.findToken(r)
		if err != nil {
			return auth, nil, err
		}
		if raw != "" {
			tok, err := h.verifier.verify(r.Context(), raw)
			if err != nil {
				return auth, nil, invalidToken(err.Error())
			}
			if tok.subject != "" {
				if id, _ := repl.GetString("http.auth.user.id"); id == "" {
					repl.Set("http.auth.user.id", tok.subject)
				} else if id != tok.subject {
					return auth, nil, invalidToken("token sub disagrees with the authenticated user")
				}
			}
			auth.token, auth.cookieOnly = tok, cookieOnly
		}
	}
	// A route's declared topics are granted on it: declaring is granting.
	templates, action := h.subscribeTemplates, "subscribe"
	if publish {
		templates, action = h.PublishAllow, "publish"
	}
	grants := h.expandGrants(repl, templates)
	// Credentials are a token, a user an authentication handler
	// established, or a request value a template turned into a grant
	// (forward_auth's Remote-User header): each template yields at most
	// one grant, so more grants than static templates means one did.
	personal := len(grants) > len(templates)-countPlaceholders(templates)
	if auth.token != nil {
		if publish {
			grants = append(grants, auth.token.publish...)
		} else {
			grants = append(grants, auth.token.subscribe...)
		}
	}
	auth.anonymous = auth.token == nil && !hasUserID(repl) && !personal
	if len(grants) == 0 && auth.anonymous {
		return auth, nil, h.notGranted(auth, "no credentials and no "+action+" grant for this route")
	}
	if publish && auth.cookieOnly && !h.originAllowed(r) {
		return auth, nil, authError{status: http.StatusForbidden,
			msg: "a publish authenticated by cookie must come from this origin or one in cors_origins"}
	}
	return auth, grants, nil
}

// notGranted refuses a request whose grants do not cover what it asks
// (SPEC §11, RFC 9110): a 401 when it presented no credentials, with a
// Bearer challenge where the route accepts tokens, so that the client
// knows to authenticate; a 403 when its credentials are not enough.
func (h *Handler) notGranted(auth requestAuth, msg string) error {
	if !auth.anonymous {
		return authError{status: http.StatusForbidden, msg: msg}
	}
	e := authError{status: http.StatusUnauthorized, msg: msg}
	if h.verifier != nil {
		e.challenge = "Bearer"
	}
	return e
}

// hasUserID reports whether an authentication handler, or a token's sub,
// set {http.auth.user.id}.
func hasUserID(repl *caddy.Replacer) bool {
	id, _ := repl.GetString("http.auth.user.id")
	return id != ""
}

// findToken returns the request's token from the Authorization header,
// the token cookie or the token query parameter. Tokens that disagree,
// two Authorization headers and a malformed Bearer header are refused.
// Other Authorization schemes (basic_auth's Basic) are left alone.
func (h *Handler) findToken(r *http.Request) (raw string, cookieOnly bool, err error) {
	var found []string
	fromHeader, fromCookie, fromQuery := false, false, false
	switch vals := r.Header.Values("Authorization"); {
	case len(vals) > 1:
		return "", false, invalidRequest("more than one Authorization header")
	case len(vals) == 1:
		scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
		if strings.EqualFold(scheme, "Bearer") {
			tok = strings.TrimLeft(tok, " ")
			if tok == "" || strings.ContainsAny(tok, " \t") {
				return "", false, invalidRequest("malformed Authorization header: want Bearer <token>")
			}
			found, fromHeader = append(found, tok), true
		}
	}
	if h.TokenCookie != tokenSourceOff {
		for _, c := range r.CookiesNamed(h.TokenCookie) {
			found, fromCookie = append(found, c.Value), true
		}
	}
	if h.TokenQuery != tokenSourceOff {
		for _, v := range r.URL.Query()[h.TokenQuery] {
			found, fromQuery = append(found, v), true
		}
	}
	for _, tok := range found {
		if tok == "" {
			return "", false, invalidRequest("empty token")
		}
		if tok != found[0] {
			return "", false, invalidRequest("the request carries different tokens")
		}
	}
	if len(found) == 0 {
		return "", false, nil
	}
	return found[0], fromCookie && !fromHeader && !fromQuery, nil
}

// originAllowed reports whether a cookie-authenticated publish comes
// from a page of the request's own origin or of one in cors_origins: the
// browser sends the cookie whichever page asks. It follows Go's
// net/http.CrossOriginProtection, stricter where a cookie publishes:
//
//   - Sec-Fetch-Site, which the browser sets and a page cannot, settles
//     it: same-origin (or none, a request the user made) is allowed;
//     same-site and cross-site only from a listed Origin.
//   - Without it, the Origin (or, failing that, the Referer) must be the
//     request's origin or a listed one. Unlike CrossOriginProtection, a
//     request with neither is refused rather than taken for a non-browser
//     client, and the scheme counts: an http page is not the https
//     origin.
//
// The request's scheme is https when Caddy terminated TLS, or when a
// proxy Caddy trusts (trusted_proxies) says so in X-Forwarded-Proto; a
// forwarded header from anyone else is ignored.
func (h *Handler) originAllowed(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		origin := r.Header.Get("Origin")
		return origin != "" && h.corsListed(origin)
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		ref, err := url.Parse(r.Referer())
		if err != nil || ref.Scheme == "" || ref.Host == "" {
			return false
		}
		origin = ref.Scheme + "://" + ref.Host
	}
	origin = strings.ToLower(origin)
	if origin == requestScheme(r)+"://"+strings.ToLower(r.Host) {
		return true
	}
	return h.corsListed(origin)
}

// requestScheme is the scheme the client used: https when Caddy
// terminated TLS, else what a trusted proxy reports in X-Forwarded-Proto.
func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted {
		// A chain of proxies appends; the first value is the client's.
		proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
		if proto = strings.ToLower(strings.TrimSpace(proto)); proto == "https" {
			return proto
		}
	}
	return "http"
}

// writeAuthError answers a refused request.
func writeAuthError(w http.ResponseWriter, r *http.Request, err error) error {
	var ae authError
	if !errors.As(err, &ae) {
		return writeError(w, r, http.StatusUnauthorized, err)
	}
	if ae.challenge != "" {
		w.Header().Set("WWW-Authenticate", ae.challenge)
	}
	return writeError(w, r, ae.status, errors.New(ae.msg))
}
