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
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// The browser side, embedded so that it needs no build step and no CDN.
var (
	//go:embed ui/console.html
	consoleHTML []byte
	//go:embed ui/console.css
	consoleCSS []byte
	//go:embed ui/console.js
	consoleJS []byte
	//go:embed ui/client.js
	clientJS []byte
	//go:embed ui/client.d.ts
	clientDTS []byte
)

// uiCSP allows the console only its own scripts, styles and connections:
// event data that slipped into the page as markup could run nothing.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// uiAsset is one embedded file with its media type and validator.
type uiAsset struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

func newUIAsset(name string, body []byte, contentType string) *uiAsset {
	sum := sha256.Sum256(body)
	return &uiAsset{name: name, body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// uiAssets are the files reachable at <route>?ui=<name>. Query parameters,
// not paths, address them, so they are reachable under an exact-path
// matcher such as `sse /events`.
var uiAssets = map[string]*uiAsset{
	"console.html": newUIAsset("console.html", consoleHTML, "text/html; charset=utf-8"),
	"console.css":  newUIAsset("console.css", consoleCSS, "text/css; charset=utf-8"),
	"console.js":   newUIAsset("console.js", consoleJS, "text/javascript; charset=utf-8"),
	"client.js":    newUIAsset("client.js", clientJS, "text/javascript; charset=utf-8"),
	"client.d.ts":  newUIAsset("client.d.ts", clientDTS, "text/typescript; charset=utf-8"),
}

// clientTypesRef points Deno, which reads the header, from the module to
// its types; relative to the module's URL, it is right for ?client and
// ?ui=client.js alike.
const clientTypesRef = "?client=d.ts"

// serveUI answers a GET without a topic that asks for the browser side:
// <route>?client is the JavaScript client and <route>?client=d.ts its
// TypeScript declarations (served with or without the ui option, for apps
// to import); with ui, <route>?ui=<file> is a console asset, <route>?ui=counts
// the hub's counts for the console, and a navigation (Accept: text/html)
// gets the console page. It reports whether it answered; anything else is
// a subscribe request.
func (h *Handler) serveUI(w http.ResponseWriter, r *http.Request) (bool, error) {
	if r.Method != http.MethodGet {
		return false, nil
	}
	query := r.URL.Query()
	if query.Has("topic") {
		return false, nil
	}
	switch {
	case query.Has("client"):
		switch query.Get("client") {
		case "", "js":
			return true, serveUIAsset(w, r, uiAssets["client.js"])
		case "d.ts":
			return true, serveUIAsset(w, r, uiAssets["client.d.ts"])
		}
		return true, writeError(w, r, http.StatusNotFound, errors.New("no such client file; ?client is the module and ?client=d.ts its TypeScript declarations"))
	case !h.UI:
		return false, nil
	case query.Get("ui") == "counts":
		return true, h.serveCounts(w, r)
	case query.Has("ui"):
		asset := uiAssets[query.Get("ui")]
		if asset == nil {
			return true, writeError(w, r, http.StatusNotFound, errors.New("no such console file; the console is at this route without parameters"))
		}
		return true, serveUIAsset(w, r, asset)
	case strings.Contains(r.Header.Get("Accept"), "text/html"):
		w.Header().Add("Vary", "Accept")
		return true, serveUIAsset(w, r, uiAssets["console.html"])
	}
	return false, nil
}

// hubCounts is all <route>?ui=counts tells: how many, never who or which.
type hubCounts struct {
	Subscribers int `json:"subscribers"`
	Topics      int `json:"topics"`
}

// serveCounts answers <route>?ui=counts, the console's live count of the
// subscribers of this route's hub (on this instance) and of the distinct
// topic selectors they hold. The counts tell of streams on every topic of
// the hub, so only a request whose subscribe grants cover every topic
// ("**", its token's grants included) may see them; anyone else gets the
// 401 or 403 a subscribe to "**" would get.
func (h *Handler) serveCounts(w http.ResponseWriter, r *http.Request) error {
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	auth, grants, err := h.authorize(r, repl, false)
	if err == nil && !allowed(grants, "**") {
		err = h.notGranted(auth, "hub counts need a subscribe grant that covers every topic (**)")
	}
	if err != nil {
		return writeAuthError(w, r, err)
	}
	st := h.hub.Stats()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	return writeJSON(w, hubCounts{Subscribers: st.Subscribers, Topics: st.Topics})
}

// serveUIAsset writes an embedded file. Browsers revalidate it on each use
// (no-cache) and get a 304 while its ETag, which changes with the plugin's
// version, still matches.
func serveUIAsset(w http.ResponseWriter, r *http.Request, a *uiAsset) error {
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", uiCSP)
	hdr.Set("Referrer-Policy", "no-referrer")
	if a.name == "client.js" {
		hdr.Set("X-TypeScript-Types", clientTypesRef)
	}
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	return nil
}
