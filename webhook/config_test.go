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

package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

const secret24 = "abcdefghijklmnopqrstuvwx" // 24 bytes

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`webhook https://backend.example/hooks?k=1 {
		secret  ` + secret24 + `
		events  join leave connect
		timeout 2s
		queue   50
	}`)
	d.Next()
	c, err := UnmarshalCaddyfile(d)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "https://backend.example/hooks?k=1" || c.Secret != secret24 || strings.Join(c.Events, " ") != "join leave connect" ||
		c.Timeout != caddy.Duration(2*time.Second) || c.Queue != 50 {
		t.Errorf("parsed %+v", c)
	}
	if err := c.CheckPresence(true); err != nil {
		t.Errorf("with presence: %v", err)
	}
	err = c.CheckPresence(false)
	if err == nil || !strings.Contains(err.Error(), "need presence") || !strings.Contains(err.Error(), ":3") {
		t.Errorf("join without presence: %v; want an error at line 3", err)
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ name, block, want string }{
		{"no url", "webhook {\n secret " + secret24 + "\n}", "wrong argument count"},
		{"two urls", "webhook https://a https://b {\n secret " + secret24 + "\n}", "wrong argument count"},
		{"relative url", "webhook /hooks {\n secret " + secret24 + "\n}", "absolute http"},
		{"ftp url", "webhook ftp://host/x {\n secret " + secret24 + "\n}", "absolute http"},
		{"no host", "webhook http:///x {\n secret " + secret24 + "\n}", "no host"},
		{"userinfo", "webhook https://u:hunter2@host/x {\n secret " + secret24 + "\n}", "user information"},
		{"no secret", "webhook https://host/x {\n events connect\n}", "secret is required"},
		{"no block", "webhook https://host/x", "secret is required"},
		{"short secret", "webhook https://host/x {\n secret abcdefghijklmnopqrstuvw\n}", "23 bytes; want at least 24"},
		{"short whsec", "webhook https://host/x {\n secret whsec_YWJjZA==\n}", "4 bytes; want at least 24"},
		{"bad whsec", "webhook https://host/x {\n secret whsec_!!!\n}", "not standard base64"},
		{"unknown event", "webhook https://host/x {\n secret " + secret24 + "\n events occupied opened\n}", `unknown event type "opened"`},
		{"event twice", "webhook https://host/x {\n secret " + secret24 + "\n events connect connect\n}", "given twice"},
		{"no events", "webhook https://host/x {\n secret " + secret24 + "\n events\n}", "wrong argument count"},
		{"zero timeout", "webhook https://host/x {\n secret " + secret24 + "\n timeout 0\n}", "more than 0"},
		{"bad timeout", "webhook https://host/x {\n secret " + secret24 + "\n timeout soon\n}", "duration"},
		{"zero queue", "webhook https://host/x {\n secret " + secret24 + "\n queue 0\n}", "more than 0"},
		{"negative queue", "webhook https://host/x {\n secret " + secret24 + "\n queue -1\n}", "non-negative"},
		{"unknown option", "webhook https://host/x {\n secret " + secret24 + "\n retries 3\n}", `unknown webhook option "retries"`},
		{"duplicate", "webhook https://host/x {\n secret " + secret24 + "\n secret " + secret24 + "\n}", "duplicate"},
		{"option block", "webhook https://host/x {\n secret " + secret24 + " {\n }\n}", "takes no block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.block)
			d.Next()
			_, err := UnmarshalCaddyfile(d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one saying %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q has no file:line", err)
			}
			for _, secret := range []string{"hunter2", secret24, "abcdefghijklmnopqrstuvw", "YWJjZA=="} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a secret", err)
				}
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Setenv("SSE_TEST_WEBHOOK_SECRET", secret24)
	c := &Config{URL: "https://backend.example/hooks", Secret: "{env.SSE_TEST_WEBHOOK_SECRET}"}
	opts, err := c.Options("chat", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(opts.Secret) != secret24 || opts.Timeout != DefaultTimeout || opts.Queue != DefaultQueue ||
		len(opts.Types) != 2 || opts.Types[0] != Occupied || opts.Types[1] != Vacated || opts.Hub != "chat" {
		t.Errorf("options %+v", opts)
	}

	// whsec_ is decoded; other secrets are their bytes, whsec-looking or not.
	c.Secret = testSecret
	if opts, err = c.Options("chat", false, nil); err != nil || len(opts.Secret) != 24 {
		t.Errorf("whsec_ secret: %d bytes, %v; want the 24 decoded bytes", len(opts.Secret), err)
	}

	t.Setenv("SSE_TEST_WEBHOOK_SECRET", secret24[:23])
	c.Secret = "{env.SSE_TEST_WEBHOOK_SECRET}"
	if _, err := c.Options("chat", false, nil); err == nil || strings.Contains(err.Error(), secret24[:23]) {
		t.Errorf("short secret from env: %v; want an error without it", err)
	}
	c.Secret = "{env.SSE_TEST_WEBHOOK_UNSET}"
	if _, err := c.Options("chat", false, nil); err == nil {
		t.Error("an unset env secret was accepted")
	}

	c.Secret, c.Events = secret24, []string{"leave"}
	if _, err := c.Options("chat", false, nil); err == nil || !strings.Contains(err.Error(), "presence") {
		t.Errorf("leave without presence: %v", err)
	}
	if _, err := c.Options("chat", true, nil); err != nil {
		t.Errorf("leave with presence: %v", err)
	}
	c.Events = []string{"opened"}
	if _, err := c.Options("chat", true, nil); err == nil {
		t.Error("an unknown type was accepted from JSON")
	}
	c.Events, c.URL = nil, "{env.SSE_TEST_WEBHOOK_UNSET}"
	if _, err := c.Options("chat", true, nil); err == nil {
		t.Error("an empty URL was accepted")
	}
}
