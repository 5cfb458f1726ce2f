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

package main

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// floorHub is the bare net/http SSE hub the plugin is measured against:
// no Caddy, one buffered channel per subscriber, one flush per event. It
// is deliberately the simplest correct hub, so that the plugin's figures
// over the floor's show what Caddy and the plugin add.
type floorHub struct {
	mu   sync.Mutex
	seq  uint64
	subs map[string]map[chan []byte]struct{}
}

func newFloorHub() *floorHub {
	return &floorHub{subs: make(map[string]map[chan []byte]struct{})}
}

func (f *floorHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		f.subscribe(w, r)
	case http.MethodPost:
		f.publish(w, r)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (f *floorHub) subscribe(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	ch := make(chan []byte, 1024)
	f.mu.Lock()
	if f.subs[topic] == nil {
		f.subs[topic] = make(map[chan []byte]struct{})
	}
	f.subs[topic][ch] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs[topic], ch)
		f.mu.Unlock()
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

func (f *floorHub) publish(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	topic, data := r.PostForm.Get("topic"), r.PostForm.Get("data")
	f.mu.Lock()
	f.seq++
	id := strconv.FormatUint(f.seq, 10)
	ev := []byte("id: " + id + "\ntopic: " + topic + "\ndata: " + data + "\n\n")
	for ch := range f.subs[topic] {
		select {
		case ch <- ev:
		default: // a full queue: the floor drops the event for that subscriber
		}
	}
	f.mu.Unlock()
	fmt.Fprintln(w, id)
}
