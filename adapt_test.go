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
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// goldenDir holds golden adapt files: a Caddyfile, a line of ten dashes,
// then the JSON that `caddy adapt --pretty` prints for it. Run the tests
// with UPDATE_GOLDEN=1 to rewrite the JSON parts from the current code.
const goldenDir = "testdata/caddyfile_adapt"

const goldenSeparator = "----------\n"

// readGolden splits a golden file into its Caddyfile and JSON parts.
func readGolden(t *testing.T, path string) (caddyfileText, jsonText string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	cf, js, found := strings.Cut(text, "\n"+goldenSeparator)
	if !found {
		t.Fatalf("%s: no line %q between the Caddyfile and the JSON", path, strings.TrimSpace(goldenSeparator))
	}
	return cf + "\n", js
}

// adaptStrict adapts a Caddyfile as `caddy adapt` does and fails the test
// on an error or a warning: shipped Caddyfiles adapt cleanly.
func adaptStrict(t *testing.T, name, caddyfileText string) []byte {
	t.Helper()
	cfgJSON, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), map[string]any{"filename": name})
	if err != nil {
		t.Fatalf("%s: adapt: %v", name, err)
	}
	for _, w := range warnings {
		t.Errorf("%s: adapt warning: %s", name, w.String())
	}
	return cfgJSON
}

func prettyJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "\t"); err != nil {
		t.Fatalf("indenting %s: %v", raw, err)
	}
	return buf.String()
}

func TestAdaptGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 5 {
		t.Fatalf("found %d golden files in %s, want at least 5", len(paths), goldenDir)
	}
	update := os.Getenv("UPDATE_GOLDEN") == "1"
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cf, wantJSON := readGolden(t, path)
			got := prettyJSON(t, adaptStrict(t, filepath.Base(path), cf))
			if update {
				if err := os.WriteFile(path, []byte(cf+goldenSeparator+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var gotVal, wantVal any
			if err := json.Unmarshal([]byte(got), &gotVal); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(wantJSON), &wantVal); err != nil {
				t.Fatalf("%s: expected JSON does not parse: %v", path, err)
			}
			if !reflect.DeepEqual(gotVal, wantVal) {
				t.Errorf("%s: adapted JSON differs from the golden file (UPDATE_GOLDEN=1 rewrites it)\n got:\n%s\n want:\n%s",
					path, got, prettyJSON(t, []byte(wantJSON)))
			}
		})
	}
}

// TestAdaptDirectiveOrder checks what the golden file directive_order
// shows, independently of its JSON: without any order option, sse runs
// after basic_auth and encode, and before respond.
func TestAdaptDirectiveOrder(t *testing.T) {
	cf, _ := readGolden(t, filepath.Join(goldenDir, "directive_order.caddyfile"))
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []struct {
							Handler string          `json:"handler"`
							Routes  json.RawMessage `json:"routes"`
						} `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(adaptStrict(t, "directive_order.caddyfile", cf), &cfg); err != nil {
		t.Fatal(err)
	}
	// The site's handlers sit in a subroute; collect their names in order.
	var order []string
	var walk func(raw json.RawMessage)
	walk = func(raw json.RawMessage) {
		var routes []struct {
			Handle []struct {
				Handler string          `json:"handler"`
				Routes  json.RawMessage `json:"routes"`
			} `json:"handle"`
		}
		if err := json.Unmarshal(raw, &routes); err != nil {
			t.Fatal(err)
		}
		for _, r := range routes {
			for _, h := range r.Handle {
				if h.Handler == "subroute" {
					walk(h.Routes)
					continue
				}
				order = append(order, h.Handler)
			}
		}
	}
	for _, srv := range cfg.Apps.HTTP.Servers {
		for _, r := range srv.Routes {
			for _, h := range r.Handle {
				if h.Handler == "subroute" {
					walk(h.Routes)
				} else {
					order = append(order, h.Handler)
				}
			}
		}
	}
	want := []string{"authentication", "encode", "sse", "static_response"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("handler order %q, want %q", order, want)
	}
}

// shippedCaddyfiles lists every Caddyfile the repository ships, with its
// text: Caddyfile.example, the Caddyfile part of each golden file, and any
// other Caddyfile or *.caddyfile outside testdata/fuzz.
func shippedCaddyfiles(t *testing.T) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch path {
			case ".git", filepath.Join("testdata", "fuzz"), filepath.Join("testdata", "fuzz-cache"), "artifacts":
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		isCaddyfile := name == "Caddyfile" || strings.HasPrefix(name, "Caddyfile.") || strings.HasSuffix(name, ".caddyfile")
		if !isCaddyfile || strings.HasSuffix(name, ".go") {
			return nil
		}
		if filepath.Dir(path) == filepath.FromSlash(goldenDir) {
			files[path], _ = readGolden(t, path)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[path] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, block := range readmeCaddyfiles(string(readme)) {
		files[fmt.Sprintf("README.md#caddyfile-%d", i+1)] = block
	}
	if _, ok := files["Caddyfile.example"]; !ok {
		t.Fatal("Caddyfile.example is missing from the repository root")
	}
	return files
}

// readmeCaddyfiles returns the README's code blocks fenced as caddyfile:
// the examples a reader copies. Syntax templates are fenced as text.
func readmeCaddyfiles(readme string) []string {
	var blocks []string
	for rest := readme; ; {
		_, after, ok := strings.Cut(rest, "\n```caddyfile\n")
		if !ok {
			return blocks
		}
		block, tail, ok := strings.Cut(after, "\n```\n")
		if !ok {
			return blocks
		}
		blocks = append(blocks, block+"\n")
		rest = tail
	}
}

// TestAdaptShippedCaddyfiles checks that every shipped Caddyfile is what
// `caddy fmt` prints, adapts without warnings, and passes caddy.Validate,
// which provisions every module as `caddy validate` does, without
// listening or touching the network, and leaves no hub in the pool.
func TestAdaptShippedCaddyfiles(t *testing.T) {
	// The examples take their JWT key and webhook secret from the
	// environment, as the README tells operators to.
	t.Setenv("SSE_JWT_KEY", strings.Repeat("k", 32))
	t.Setenv("SSE_WEBHOOK_SECRET", strings.Repeat("w", 32))
	t.Setenv("MERCURE_JWT_SECRET", strings.Repeat("m", 32))
	for path, text := range shippedCaddyfiles(t) {
		t.Run(path, func(t *testing.T) {
			if formatted := string(caddyfile.Format([]byte(text))); formatted != text {
				t.Errorf("%s is not formatted; caddy fmt would print:\n%s", path, formatted)
			}
			cfgJSON := adaptStrict(t, path, text)
			var cfg caddy.Config
			if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
				t.Fatalf("%s: unmarshalling adapted config: %v", path, err)
			}
			if cfg.Logging == nil {
				// Quiet test output; the logs are not what is validated.
				cfg.Logging = &caddy.Logging{Logs: map[string]*caddy.CustomLog{
					"default": {BaseLog: caddy.BaseLog{WriterRaw: json.RawMessage(`{"output":"discard"}`)}},
				}}
			}
			if err := caddy.Validate(&cfg); err != nil {
				t.Fatalf("%s: validate: %v", path, err)
			}
			if n := lcPoolSize(); n != 0 {
				t.Fatalf("%s: %d hubs left in the pool after validation: %v", path, n, lcPoolKeys())
			}
		})
	}
}

// TestAdaptValueErrors: a bad value in the sse block (or the Redis
// transport's block) fails `caddy adapt` with the file and line of the
// option, as a syntax error does, not later at provision with no place.
func TestAdaptValueErrors(t *testing.T) {
	for _, tt := range []struct{ option, want string }{
		{"subscribe_allow news sports/{http.auth.user.id} a*b", `subscribe_allow: grant "a*b"`},
		{"subscribe_allow news*", `grant "news*"`},
		{"publish_allow news/**/x", `publish_allow: grant "news/**/x"`},
		{"topics users//x", `topics: grant "users//x"`},
		{`subscribe_allow "news today"`, `grant "news today"`},
		{"hub bad/name", `hub name "bad/name": want 1-64 characters`},
		{"hub " + strings.Repeat("h", 65), "want 1-64 characters"},
		{"cors_origins https://ok.example http://bad.example/path", `cors origin "http://bad.example/path": want scheme://host[:port]`},
		{"cors_origins ftp://x.example", `cors origin "ftp://x.example"`},
		{"token_query tok en", "wrong argument count"},
		{"token_query to%ken", `token_query "to%ken": want a name`},
		{"token_cookie a;b", `token_cookie "a;b": want a name`},
		{"history_age 5 minutes", "wrong argument count"},
		{"history_age soon", `history_age: want a non-negative duration, got "soon"`},
		{"max_body_size 4 MB", "wrong argument count"},
		{"max_body_size huge", `max_body_size: want a size such as 64KiB, got "huge"`},
		{"jwt {\n\t\t\talg HS999\n\t\t}", `jwt: unknown alg "HS999"`},
		{"transport redis ftp://127.0.0.1:6379", "transport redis: bad URL"},
		{"transport redis redis://u:s3cret@127.0.0.1:notaport", "transport redis: bad URL"},
		{"transport redis redis://127.0.0.1:6379 {\n\t\t\tdial_timeout soon\n\t\t}", `dial_timeout: want a non-negative duration`},
	} {
		t.Run(tt.option, func(t *testing.T) {
			// The option is on line 6; the error of an option inside a
			// block is on the block's next line.
			text := "{\n\tadmin off\n}\n:8080 {\n\tsse {\n\t\t" + tt.option + "\n\t}\n}\n"
			line := 6
			if strings.Contains(tt.option, "\n") {
				line = 7
			}
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": "values.caddyfile"})
			if err == nil {
				t.Fatalf("adapt accepted %q; want an error containing %q", tt.option, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("adapt error %q, want it to contain %q", msg, tt.want)
			}
			if at := fmt.Sprintf("values.caddyfile:%d", line); !strings.Contains(msg, at) {
				t.Errorf("adapt error %q does not point at %s", msg, at)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("adapt error %q carries the password", msg)
			}
		})
	}
}
