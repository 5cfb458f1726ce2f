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

package floor

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// queueSize bounds each subscriber's channel; an event that finds it full
// is dropped for that subscriber, which the load tool reports as missing.
const queueSize = 1024

// Hub serves GET (subscribe to one selector given as ?topic=) and POST
// (publish one form-encoded event: topic, data).
type Hub struct {
	mu  sync.Mutex
	seq uint64
	// exact holds the subscribers of plain topics; patterns those of
	// selectors with a "*" segment or a final "**", matched by a scan:
	// the load tool uses a fixed, small number of them.
	exact    map[string]map[chan []byte]struct{}
	patterns map[string]map[chan []byte]struct{}
}

// New returns an empty hub.
func New() *Hub {
	return &Hub{
		exact:    make(map[string]map[chan []byte]struct{}),
		patterns: make(map[string]map[chan []byte]struct{}),
	}
}

func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.subscribe(w, r)
	case http.MethodPost:
		h.publish(w, r)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func isPattern(selector string) bool {
	return strings.Contains(selector, "*")
}

func (h *Hub) subscribe(w http.ResponseWriter, r *http.Request) {
	selector := r.URL.Query().Get("topic")
	set := h.exact
	if isPattern(selector) {
		set = h.patterns
	}
	ch := make(chan []byte, queueSize)
	h.mu.Lock()
	if set[selector] == nil {
		set[selector] = make(map[chan []byte]struct{})
	}
	set[selector][ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(set[selector], ch)
		if len(set[selector]) == 0 {
			delete(set, selector)
		}
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_, _ = w.Write([]byte(":ok\n\n"))
	if rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-ch:
			if _, err := w.Write(ev); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}

func (h *Hub) publish(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	topic, data := r.PostForm.Get("topic"), r.PostForm.Get("data")
	h.mu.Lock()
	h.seq++
	id := strconv.FormatUint(h.seq, 10)
	ev := []byte("id: " + id + "\ntopic: " + topic + "\ndata: " + data + "\n\n")
	send(h.exact[topic], ev)
	for pattern, subs := range h.patterns {
		if Match(pattern, topic) {
			send(subs, ev)
		}
	}
	h.mu.Unlock()
	fmt.Fprintln(w, id)
}

func send(subs map[chan []byte]struct{}, ev []byte) {
	for ch := range subs {
		select {
		case ch <- ev:
		default: // a full queue: the floor drops the event for that subscriber
		}
	}
}

// Match reports whether topic matches selector: "*" as a whole segment
// matches one segment, "**" as the last segment one or more.
func Match(selector, topic string) bool {
	for {
		s, srest, smore := strings.Cut(selector, "/")
		if s == "**" && !smore {
			return topic != ""
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if s != "*" && s != t {
			return false
		}
		if !smore || !tmore {
			return smore == tmore
		}
		selector, topic = srest, trest
	}
}
