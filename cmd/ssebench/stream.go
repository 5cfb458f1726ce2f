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

// This file is one run's traffic: subscribers that read and check their
// streams, and the publishers that feed them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// subscriber is one stream's view of the run.
type subscriber struct {
	url       *url.URL
	expected  int
	lastSeq   []int64 // per publisher, the number of the last event received
	received  int
	dups      int
	reordered int
	latencies []int32 // microseconds
}

// openStream sends a subscribe request on a new connection and returns
// once the response headers arrived.
func openStream(ctx context.Context, u *url.URL) (net.Conn, *bufio.Reader, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, nil, err
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAccept: text/event-stream\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		conn.Close()
		// Caddy answers a host it has no site for with an empty 200.
		return nil, nil, fmt.Errorf("subscribe: status %d, content type %q: is the URL's host one the server serves?",
			resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The body is chunked; read it through the response so chunk headers
	// never reach the event parser.
	return conn, bufio.NewReaderSize(resp.Body, 4096), nil
}

// newLastSeq is a subscriber's "nothing received yet" from each publisher.
func newLastSeq(publishers int) []int64 {
	last := make([]int64, publishers)
	for i := range last {
		last[i] = -1
	}
	return last
}

// read parses events until the connection ends. Event data is
// "<publisher> <n> <publish unix nanos>": ids are opaque, so order is
// checked per publisher, whose events the hub must deliver in the order it
// published them, by their numbers.
func (s *subscriber) read(br *bufio.Reader, onEvent func()) {
	var pub int = -1
	var seq, sent int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		line = line[:len(line)-1]
		switch {
		case len(line) == 0:
			if pub < 0 || pub >= len(s.lastSeq) {
				continue
			}
			now := time.Now().UnixNano()
			switch last := s.lastSeq[pub]; {
			case seq == last:
				s.dups++
			case seq < last:
				s.reordered++
			}
			s.lastSeq[pub] = max(s.lastSeq[pub], seq)
			s.received++
			s.latencies = append(s.latencies, int32((now-sent)/1000))
			pub = -1
			onEvent()
		case len(line) > 6 && string(line[:6]) == "data: ":
			pub, seq, sent = parseEventData(line[6:])
		}
	}
}

// eventData is the data of event n of publisher pub, published now.
func eventData(pub, n int, now int64) string {
	return strconv.Itoa(pub) + " " + strconv.Itoa(n) + " " + strconv.FormatInt(now, 10)
}

// parseEventData reads eventData back; pub is -1 for anything else.
func parseEventData(b []byte) (pub int, n, sent int64) {
	fields := strings.Fields(string(b))
	if len(fields) != 3 {
		return -1, 0, 0
	}
	p, err1 := strconv.Atoi(fields[0])
	n, err2 := strconv.ParseInt(fields[1], 10, 64)
	sent, err3 := strconv.ParseInt(fields[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return -1, 0, 0
	}
	return p, n, sent
}

// publishAll publishes c.events events, at c.rate per second or, with
// rate 0, as fast as c.publishers concurrent publishers can, and returns
// the number of publish requests it made. Event n goes to topicOf(n).
func publishAll(c loadConfig, topicOf func(int) string) (int, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.publishers + 1}}
	defer client.CloseIdleConnections()
	var next, requests atomic.Int64
	publish := func(pub int) error {
		n := int(next.Add(int64(c.batch))) - c.batch
		if n >= c.events {
			return io.EOF
		}
		count := min(c.batch, c.events-n)
		var req *http.Request
		var err error
		now := time.Now().UnixNano()
		if c.batch == 1 {
			body := url.Values{"topic": {topicOf(n)}, "data": {eventData(pub, n, now)}}.Encode()
			req, err = http.NewRequest(http.MethodPost, c.pubURL, strings.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		} else {
			batch := make([]map[string]string, count)
			for i := range batch {
				batch[i] = map[string]string{"topic": topicOf(n + i), "data": eventData(pub, n+i, now)}
			}
			b, _ := json.Marshal(batch)
			req, err = http.NewRequest(http.MethodPost, c.pubURL, bytes.NewReader(b))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
			}
		}
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("publish: status %d", resp.StatusCode)
		}
		requests.Add(1)
		return nil
	}
	if c.rate > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) * float64(c.batch) / c.rate))
		defer tick.Stop()
		for {
			if err := publish(0); err != nil {
				if errors.Is(err, io.EOF) {
					return int(requests.Load()), nil
				}
				return 0, err
			}
			<-tick.C
		}
	}
	errc := make(chan error, c.publishers)
	for pub := range c.publishers {
		go func() {
			for {
				if err := publish(pub); err != nil {
					if errors.Is(err, io.EOF) {
						err = nil
					}
					errc <- err
					return
				}
			}
		}()
	}
	var first error
	for range c.publishers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return int(requests.Load()), first
}
