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

// Command ssebench is the project's load tool. It drives a running SSE hub
// (Caddy with the plugin, or the bare floor hub it also serves) over
// loopback: it opens many subscribers on raw HTTP/1.1 connections,
// publishes events at a rate or as fast as it can, checks every delivery
// (missing, duplicate, out of order), times publish→receive, and reads the
// server's CPU time and memory from /proc. It prints a human summary and
// one JSON line, and stops by itself.
//
//	ssebench floor -listen 127.0.0.1:8090
//	ssebench run -url http://127.0.0.1:8080/events -subs 5000 -rate 10 -events 100 -pid $(pidof caddy)
//	ssebench run -url http://127.0.0.1:8080/events -topic m -topics 10000 -wildcards 100 -rate 0 -events 5000
//	ssebench plain -url http://127.0.0.1:8080/plain -requests 20000 -workers 8 -pid $(pidof caddy)
//	ssebench churn -url http://127.0.0.1:8080/events -rate 1000 -duration 60s -pid $(pidof caddy) \
//		-goroutines-url 'http://127.0.0.1:2019/debug/pprof/goroutine?debug=1'
//	ssebench suite -build            # from the repository root: every scenario, floor / Caddy+null / Caddy+plugin
package main
