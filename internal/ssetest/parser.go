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

package ssetest

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
)

// Event is an event as a WHATWG EventSource parser dispatches it,
// plus the topic: lines our own client reads.
type Event struct {
	ID     string // the last event ID buffer at dispatch
	Type   string // "message" when no event: field was given
	Data   string
	Topics []string
	Retry  int // last retry: value seen before this event, -1 if none
}

// Parser implements the event-stream interpretation of the HTML
// standard (§9.2.6): lines end in CRLF, LF or lone CR; a leading BOM is
// dropped; a colon-first line is a comment; one space after the colon is
// dropped; a blank line dispatches; an event with empty data is not
// dispatched; "id" containing NUL is ignored.
type Parser struct {
	r        *bufio.Reader
	LastID   string
	retry    int
	Comments int
	started  bool
}

func NewParser(r io.Reader) *Parser {
	return &Parser{r: bufio.NewReader(r), retry: -1}
}

// ReadLine returns one raw line without its terminator, for tests that
// read the stream line by line.
func (p *Parser) ReadLine() (string, error) {
	var b []byte
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			if len(b) > 0 && err == io.EOF {
				return "", io.ErrUnexpectedEOF // an unterminated line is discarded
			}
			return "", err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if next, err := p.r.Peek(1); err == nil && next[0] == '\n' {
				_, _ = p.r.ReadByte()
			}
			return string(b), nil
		}
		b = append(b, c)
	}
}

// Next returns the next dispatched event.
func (p *Parser) Next() (Event, error) {
	var data bytes.Buffer
	var typ string
	var topics []string
	hasData := false
	for {
		line, err := p.ReadLine()
		if err != nil {
			return Event{}, err
		}
		if !p.started {
			p.started = true
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" {
			if !hasData {
				data.Reset()
				typ, topics = "", nil
				continue
			}
			d := data.String()
			d = strings.TrimSuffix(d, "\n")
			ev := Event{ID: p.LastID, Type: typ, Data: d, Topics: topics, Retry: p.retry}
			if ev.Type == "" {
				ev.Type = "message"
			}
			return ev, nil
		}
		if line[0] == ':' {
			p.Comments++
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			typ = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.Contains(value, "\x00") {
				p.LastID = value
			}
		case "retry":
			if n, err := strconv.Atoi(value); err == nil && strings.Trim(value, "0123456789") == "" {
				p.retry = n
			}
		case "topic":
			topics = append(topics, value)
		}
	}
}
