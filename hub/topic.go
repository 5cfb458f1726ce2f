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

package hub

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTopicLen is the longest topic or selector accepted, in bytes.
const MaxTopicLen = 256

// Errors returned by topic and selector validation. Their text reaches
// clients in 400 responses, so it names the problem without echoing input.
var (
	errTopicEmpty      = errors.New("topic is empty")
	errTopicTooLong    = errors.New("topic is longer than 256 bytes")
	errTopicUTF8       = errors.New("topic is not valid UTF-8")
	errTopicChar       = errors.New("topic contains whitespace or a non-printable character")
	errTopicSegment    = errors.New("topic has an empty segment")
	errTopicWildcard   = errors.New("topic contains a wildcard; publish to concrete topics only")
	errSelectorPattern = errors.New("selector wildcard must be a whole segment: '*' for one segment, '**' as the last segment")
	errOpaqueChar      = errors.New("topic contains CR, LF or NUL")
	errTopicQuery      = errors.New("topic contains '?' or '#': separate query parameters with '&', as in ?topic=news&token=…")
)

// ValidateTopic reports whether t is a concrete topic (SPEC §3).
func ValidateTopic(t string) error {
	if err := checkTopicChars(t); err != nil {
		return err
	}
	if strings.IndexByte(t, '*') >= 0 {
		return errTopicWildcard
	}
	return checkSegments(t)
}

// ValidateOpaqueTopic reports whether t is a Mercure topic: 1 to
// MaxTopicLen bytes of valid UTF-8 without CR, LF or NUL. URLs, '{', '}'
// and '*' are all allowed: Mercure topics are opaque strings.
func ValidateOpaqueTopic(t string) error {
	switch {
	case t == "":
		return errTopicEmpty
	case len(t) > MaxTopicLen:
		return errTopicTooLong
	case !utf8.ValidString(t):
		return errTopicUTF8
	case strings.ContainsAny(t, "\r\n\x00"):
		return errOpaqueChar
	}
	return nil
}

// ValidateSelector reports whether s is a topic or a pattern (SPEC §3).
func ValidateSelector(s string) error {
	if err := checkTopicChars(s); err != nil {
		return err
	}
	if err := checkSegments(s); err != nil {
		return err
	}
	for rest, last := s, false; !last; {
		var seg string
		seg, rest, last = nextSegment(rest)
		if strings.IndexByte(seg, '*') < 0 || seg == "*" {
			continue
		}
		if seg == "**" && last {
			continue
		}
		return errSelectorPattern
	}
	return nil
}

func checkTopicChars(t string) error {
	if t == "" {
		return errTopicEmpty
	}
	if len(t) > MaxTopicLen {
		return errTopicTooLong
	}
	for i := 0; i < len(t); {
		c := t[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f {
				return errTopicChar
			}
			if c == '?' || c == '#' {
				// Almost always a URL built as …?topic=x?token=…
				return errTopicQuery
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		if r == utf8.RuneError && size == 1 {
			return errTopicUTF8
		}
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return errTopicChar
		}
		i += size
	}
	return nil
}

func checkSegments(t string) error {
	if t[0] == '/' || t[len(t)-1] == '/' || strings.Contains(t, "//") {
		return errTopicSegment
	}
	return nil
}

// nextSegment splits the first '/'-separated segment off s.
func nextSegment(s string) (seg, rest string, last bool) {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return s, "", true
	}
	return s[:i], s[i+1:], false
}

// IsPattern reports whether a valid selector contains a wildcard.
func IsPattern(sel string) bool { return strings.IndexByte(sel, '*') >= 0 }

// MatchSelector reports whether the valid selector sel matches the topic.
// It walks both strings once and allocates nothing.
func MatchSelector(sel, topic string) bool {
	for {
		sseg, srest, slast := nextSegment(sel)
		if sseg == "**" && slast {
			return true // ** matches one or more remaining segments, and topic has at least one
		}
		tseg, trest, tlast := nextSegment(topic)
		if sseg != "*" && sseg != tseg {
			return false
		}
		if slast || tlast {
			return slast && tlast
		}
		sel, topic = srest, trest
	}
}

// Covers reports whether every topic the selector sel can match is also
// matched by the grant g; both must be valid selectors. Coverage decides
// authorization, so it errs on the side of "not covered".
func Covers(g, sel string) bool {
	for {
		gseg, grest, glast := nextSegment(g)
		sseg, srest, slast := nextSegment(sel)
		if gseg == "**" && glast {
			return true // sel still has at least this segment left; any tail is covered
		}
		if sseg == "**" && slast {
			return false // sel matches arbitrarily deep topics that g (without a trailing **) does not
		}
		switch {
		case gseg == "*":
			// '*' in g covers a literal or '*' in sel
		case gseg != sseg || sseg == "*":
			return false
		}
		if glast || slast {
			return glast && slast
		}
		g, sel = grest, srest
	}
}
