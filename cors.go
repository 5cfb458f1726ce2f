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
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORS answers for browsers on other origins.
const (
	corsAllowMethods = "GET, POST"
	corsAllowHeaders = "Authorization, Content-Type, Last-Event-ID, Idempotency-Key"
	corsMaxAge       = "600"
)

// validateOrigin checks one cors_origins entry: scheme://host[:port],
// nothing more.
func validateOrigin(origin string) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(origin, "/") {
		return fmt.Errorf("cors origin %q: want scheme://host[:port], such as https://app.example.com", origin)
	}
	return nil
}

// corsListed reports whether an origin is listed in cors_origins.
func (h *Handler) corsListed(origin string) bool {
	return slices.Contains(h.corsOrigins, strings.ToLower(origin))
}

// serveCORS adds CORS headers for a listed Origin and answers a preflight
// request; it reports whether the request was answered. An unlisted origin
// is never reflected, so the browser keeps its response from the page.
func (h *Handler) serveCORS(w http.ResponseWriter, r *http.Request) (bool, error) {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" && !preflight {
		return false, nil
	}
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	listed := origin != "" && h.corsListed(origin)
	if listed {
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
		// A fetch-based client reads a stream's starting id from it.
		hdr.Set("Access-Control-Expose-Headers", "Last-Event-ID")
	}
	if !preflight {
		return false, nil
	}
	hdr.Add("Vary", "Access-Control-Request-Method")
	hdr.Add("Vary", "Access-Control-Request-Headers")
	if !listed {
		return true, writeError(w, r, http.StatusForbidden, fmt.Errorf("origin not allowed; list it in cors_origins"))
	}
	hdr.Set("Access-Control-Allow-Methods", corsAllowMethods)
	hdr.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	hdr.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true, nil
}
