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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// AdminAPI serves the hubs on Caddy's admin endpoint, under its access
// controls: trusted publishing (no grants needed), hub statistics, and
// listing and disconnecting subscribers.
//
//	POST   /sse/publish                         publish (a publish body plus "hub")
//	GET    /sse/hubs                            statistics of every hub
//	GET    /sse/hubs/<name>                     statistics of one hub
//	GET    /sse/hubs/<name>/subscribers         open subscriptions
//	DELETE /sse/hubs/<name>/subscribers/<id>    end one, optionally ?retry=<ms|duration>
type AdminAPI struct {
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.sse",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision sets up the logger.
func (a *AdminAPI) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	return nil
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/sse/publish", Handler: caddy.AdminHandlerFunc(a.handlePublish)},
		{Pattern: "/sse/hubs", Handler: caddy.AdminHandlerFunc(a.handleHubs)},
		{Pattern: "/sse/hubs/", Handler: caddy.AdminHandlerFunc(a.handleHub)},
	}
}

// findHub returns the named hub, or a 404.
func findHub(name string) (*hub.Hub, error) {
	found, ok := LookupHub(name)
	if !ok {
		return nil, apiError(http.StatusNotFound, fmt.Errorf("hub %q not found", name))
	}
	return found, nil
}

func apiError(status int, err error) error {
	return caddy.APIError{HTTPStatus: status, Err: err}
}

// handlePublish publishes like a route's POST, without grants: the admin
// endpoint is trusted. The limits are the route defaults.
func (a *AdminAPI) handlePublish(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return apiError(http.StatusMethodNotAllowed, errors.New("method not allowed; use POST"))
	}
	mediaType, err := publishMediaType(r)
	if err != nil {
		return apiError(statusOf(err), err)
	}
	pub, err := readPublish(w, r, mediaType, defaultMaxBodySize, true)
	if err == nil {
		err = checkEvents(pub.events, trustedGrants)
	}
	if err != nil {
		return apiError(statusOf(err), err)
	}
	if pub.hub == "" {
		pub.hub = defaultHub
	}
	if !hubNameRE.MatchString(pub.hub) {
		return apiError(http.StatusBadRequest, fmt.Errorf("hub name %q: want 1-64 characters of A-Za-z0-9._-", pub.hub))
	}
	hb, err := findHub(pub.hub)
	if err != nil {
		return err
	}
	ids, err := publishEvents(r.Context(), hb, pub, defaultMaxEventSize)
	var se statusError
	switch {
	case errors.As(err, &se):
		return apiError(se.status, err)
	case err != nil:
		return apiError(http.StatusServiceUnavailable, err)
	}
	return writePublished(w, pub, ids)
}

// handleHubs lists the statistics of every hub.
func (a *AdminAPI) handleHubs(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		return apiError(http.StatusMethodNotAllowed, errors.New("method not allowed; use GET"))
	}
	stats := []adminHubStats{}
	for _, hb := range pooledHubs() {
		stats = append(stats, adminStats(hb.Hub))
	}
	return writeJSON(w, stats)
}

// handleHub serves /sse/hubs/<name>[/subscribers[/<id>]].
func (a *AdminAPI) handleHub(w http.ResponseWriter, r *http.Request) error {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/sse/hubs/"), "/")
	hb, err := findHub(parts[0])
	if err != nil {
		return err
	}
	method := func(allow string) error {
		if r.Method == allow {
			return nil
		}
		w.Header().Set("Allow", allow)
		return apiError(http.StatusMethodNotAllowed, errors.New("method not allowed; use "+allow))
	}
	switch {
	case len(parts) == 1:
		if err := method(http.MethodGet); err != nil {
			return err
		}
		return writeJSON(w, adminStats(hb))
	case len(parts) == 2 && parts[1] == "subscribers":
		if err := method(http.MethodGet); err != nil {
			return err
		}
		return writeJSON(w, hb.Subscribers())
	case len(parts) == 2 && parts[1] == "presence":
		if err := method(http.MethodGet); err != nil {
			return err
		}
		return adminPresence(w, r, hb)
	case len(parts) == 3 && parts[1] == "subscribers":
		if err := method(http.MethodDelete); err != nil {
			return err
		}
		return a.disconnect(w, r, hb, parts[2])
	}
	return apiError(http.StatusNotFound, fmt.Errorf("no such resource: %s", r.URL.Path))
}

// disconnect ends one subscription with sse.close, reason "disconnected",
// carrying the retry the operator gave (a query parameter or a JSON body
// {"retry": …}, in milliseconds or as a duration such as "5m").
func (a *AdminAPI) disconnect(w http.ResponseWriter, r *http.Request, hb *hub.Hub, idText string) error {
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return apiError(http.StatusNotFound, fmt.Errorf("subscriber %q not found in hub %q", idText, hb.Name()))
	}
	retryText := r.URL.Query().Get("retry")
	if retryText == "" && r.ContentLength != 0 {
		var body struct {
			Retry json.RawMessage `json:"retry"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && err != io.EOF {
			return apiError(http.StatusBadRequest, fmt.Errorf("malformed JSON body: %v", err))
		}
		retryText = strings.Trim(string(body.Retry), `"`)
	}
	var retry time.Duration
	if retryText != "" {
		if retry, err = parseRetry(retryText); err != nil {
			return apiError(http.StatusBadRequest, err)
		}
	}
	if !hb.Disconnect(id, hub.ReasonDisconnected, retry) {
		return apiError(http.StatusNotFound, fmt.Errorf("subscriber %d not found in hub %q", id, hb.Name()))
	}
	a.logger.Info("subscriber disconnected by the admin API",
		zap.String("hub", hb.Name()), zap.Uint64("subscriber", id), zap.Duration("retry", retry))
	return writeJSON(w, struct {
		Hub        string     `json:"hub"`
		Subscriber uint64     `json:"subscriber"`
		Reason     hub.Reason `json:"reason"`
		RetryMS    int64      `json:"retry,omitempty"`
	}{hb.Name(), id, hub.ReasonDisconnected, retry.Milliseconds()})
}

// parseRetry reads a delay in milliseconds ("30000") or as a Caddy
// duration ("30s", "5m").
func parseRetry(s string) (time.Duration, error) {
	errBad := errors.New("retry must be a positive number of milliseconds or a duration such as 30s")
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms <= 0 || ms > maxRetryMillis {
			return 0, errBad
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil || d < time.Millisecond {
		return 0, errBad
	}
	return d, nil
}

// adminHubStats is what the admin API tells of a hub.
type adminHubStats struct {
	hub.Stats
	// Dropped counts every drop, those of the handlers' writers and
	// capacity rejections included, where hub.Stats counts the hub's own.
	Dropped uint64                `json:"subscribers_dropped"`
	Drops   map[hub.Reason]uint64 `json:"subscribers_dropped_by_reason"`
}

func adminStats(hb *hub.Hub) adminHubStats {
	st := adminHubStats{Stats: hb.Stats(), Drops: hb.Drops()}
	for _, n := range st.Drops {
		st.Dropped += n
	}
	return st
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(v)
}

// Interface guards
var (
	_ caddy.AdminRouter = (*AdminAPI)(nil)
	_ caddy.Provisioner = (*AdminAPI)(nil)
)
