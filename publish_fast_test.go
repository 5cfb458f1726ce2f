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
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/caddy-sse/caddy-sse/hub"
	"github.com/caddyserver/caddy/v2"
)

// TestScanFormEventMatchesParseQuery checks that the form fast path gives
// what url.ParseQuery and the field checks give, or gives up.
func TestScanFormEventMatchesParseQuery(t *testing.T) {
	bodies := []string{
		"", "&", "&&", "data=x&topic=a", "topic=a&data=x", "data=1764000000000000000&topic=bench",
		"topic=a&topic=b&data=x", "topic=a&topic=a&data=x", "topic=&data=x", "topic=a&data=",
		"topic=a", "data=x", "topic=a&data=x&event=e", "topic=a&data=x&type=e",
		"topic=a&data=x&event=e&type=f", "topic=a&data=x&event=e&event=f",
		"topic=a&data=x&data=y", "topic=a&data=x&retry=10", "topic=a&data=x&retry=-1",
		"topic=a&data=x&retry=1.5", "topic=a&data=x&retry=8796093022209", "topic=a&data=x&retry=",
		"topic=a&data=x&retry=1&retry=2", "topic=a&data=x&hub=h", "topic=a&data=x&hub=h&hub=i",
		"topic=a&data=x&id=1", "topic=a&data=x&=y", "topic=a&data=x&&", "&topic=a&&data=x&",
		"topic=a;data=x", "topic=a&data=x;", "to%70ic=a&data=x", "topic=a%2Fb&data=hello+world",
		"topic=a&data=%zz", "top%zzic=a&data=x", "topic=a&data=x%", "topic=a&data=%E2%82%AC",
		"topic=a&data=%FF", "topic=a&data", "topic&data=x", "topic=a=b&data=x=y",
		"topic=a&data=x&Data=y", "topic=a&data=x&event=%0A", "topic=a/*&data=x",
		"topic=a&topic=b&topic=c&topic=d&topic=e&topic=f&topic=g&topic=h&data=x",
		"topic=a&data=x&a=&topic=b&topic=c&topic=d&topic=e&topic=f&topic=g",
	}
	for _, body := range bodies {
		for _, withHub := range []bool{false, true} {
			events, hubName, err := parseFormEvent([]byte(body), withHub)
			wantEvents, wantHub, wantErr := parseFormValues(body, withHub)
			if errString(err) != errString(wantErr) || hubName != wantHub || !sameEvents(events, wantEvents) {
				t.Errorf("%q (hub %v): got %v, %q, %v; want %v, %q, %v",
					body, withHub, events, hubName, err, wantEvents, wantHub, wantErr)
			}
			if err == nil {
				if cerr, werr := checkEvents(events, []string{"**"}), checkEvents(wantEvents, []string{"**"}); errString(cerr) != errString(werr) {
					t.Errorf("%q: checkEvents %v, want %v", body, cerr, werr)
				}
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func sameEvents(a, b []*hub.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(*a[i], *b[i]) {
			return false
		}
	}
	return true
}

// TestPublishMediaTypeFastPath checks the exact values publishMediaType
// knows against mime.ParseMediaType.
func TestPublishMediaTypeFastPath(t *testing.T) {
	for _, ct := range []string{
		contentTypeForm, contentTypeJSON, contentTypeJSON + "; charset=utf-8",
		"application/json; charset=UTF-8", "Application/JSON", "application/json;", "application/json; charset",
		contentTypeForm + "; charset=utf-8", "text/plain", "", "application/jsonx",
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Content-Type", ct)
		got, err := publishMediaType(r)
		want, _, _ := mime.ParseMediaType(ct)
		if want != contentTypeForm && want != contentTypeJSON {
			want = ""
		}
		if got != want || (err == nil) != (want != "") {
			t.Errorf("%q: got %q, %v; want %q", ct, got, err, want)
		}
	}
}

// TestReadBodyLimit checks readBody at and around its limit, with and
// without a declared length, and a body that fails.
func TestReadBodyLimit(t *testing.T) {
	const limit = 600 // past bytes.MinRead, so the buffer grows
	tests := []struct {
		size     int
		declared bool
		wantErr  string
		close    bool
	}{
		{0, false, "", false},
		{10, true, "", false},
		{limit, true, "", false},
		{limit, false, "", false},
		{limit + 1, true, "request body is larger than max_body_size (600 bytes)", true},
		{limit + 1, false, "request body is larger than max_body_size (600 bytes)", true},
		{3 * limit, false, "request body is larger than max_body_size (600 bytes)", true},
	}
	for _, tt := range tests {
		body := bytes.Repeat([]byte{'x'}, tt.size)
		// One byte per read, as a slow client sends it, and all at once.
		for _, reader := range []io.Reader{bytes.NewReader(body), iotest.OneByteReader(bytes.NewReader(body))} {
			r := httptest.NewRequest(http.MethodPost, "/", reader)
			if !tt.declared {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			got, err := readBody(w, r, limit)
			if errString(err) != tt.wantErr {
				t.Errorf("size %d, declared %v: error %v, want %q", tt.size, tt.declared, err, tt.wantErr)
				continue
			}
			if err == nil && !bytes.Equal(got, body) {
				t.Errorf("size %d, declared %v: read %d bytes", tt.size, tt.declared, len(got))
			}
			if closed := w.Header().Get("Connection") == "close"; closed != tt.close {
				t.Errorf("size %d, declared %v: Connection: close %v, want %v", tt.size, tt.declared, closed, tt.close)
			}
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", iotest.ErrReader(errors.New("reset")))
	r.ContentLength = -1
	if _, err := readBody(httptest.NewRecorder(), r, limit); errString(err) != "reading request body failed" || statusOf(err) != http.StatusBadRequest {
		t.Errorf("failing body: %v", err)
	}
}

// TestExpandGrantsWithoutPlaceholders checks that grants without
// placeholders are the templates, and that appending to them leaves the
// templates alone.
func TestExpandGrantsWithoutPlaceholders(t *testing.T) {
	templates := make([]string, 2, 4)
	copy(templates, []string{"a/*", "b"})
	grants := expandGrants(caddy.NewReplacer(), templates)
	if !reflect.DeepEqual(grants, []string{"a/*", "b"}) {
		t.Fatalf("grants %q", grants)
	}
	// As authorize does with a token's grants.
	grants = append(grants, "token/grant")
	if !reflect.DeepEqual(grants, []string{"a/*", "b", "token/grant"}) {
		t.Errorf("grants after append %q", grants)
	}
	if got := templates[:cap(templates)][2]; got != "" {
		t.Errorf("appending to the grants wrote %q into the templates", got)
	}
	if grants := expandGrants(caddy.NewReplacer(), nil); grants != nil {
		t.Errorf("no templates: grants %q", grants)
	}
}

// TestWritePublishedForm checks the form answer's headers and body, and
// that the shared header values stay apart.
func TestWritePublishedForm(t *testing.T) {
	w := httptest.NewRecorder()
	if err := writePublished(w, publishRequest{mediaType: contentTypeForm}, []string{"abc-1"}); err != nil {
		t.Fatal(err)
	}
	h := w.Header()
	if h.Get("Cache-Control") != "no-store" || h.Get("Content-Type") != "text/plain; charset=utf-8" || w.Body.String() != "abc-1\n" {
		t.Fatalf("headers %v, body %q", h, w.Body)
	}
	h.Add("Cache-Control", "private")
	if got := h.Values("Content-Type"); !reflect.DeepEqual(got, []string{"text/plain; charset=utf-8"}) {
		t.Errorf("adding to Cache-Control changed Content-Type: %q", got)
	}
	if strings.Join(h.Values("Cache-Control"), ",") != "no-store,private" {
		t.Errorf("Cache-Control %q", h.Values("Cache-Control"))
	}
}
