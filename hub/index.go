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

// topicIndex finds the subscribers of a topic without looking at
// subscribers or selectors that cannot match it. Concrete selectors sit in
// a map; patterns sit in a trie of segments, so that a publish walks only
// the branches its topic can take: its literal segment, '*', and any '**'
// on the way. The cost of a publish grows with the depth of its topic,
// not with the number of topics or patterns subscribed.
type topicIndex struct {
	exact     map[string]map[*Subscriber]struct{}
	patterns  patternNode
	selectors int // distinct selectors with at least one subscriber
}

// patternNode is one segment position in the pattern trie.
type patternNode struct {
	literal  map[string]*patternNode
	star     *patternNode
	here     map[*Subscriber]struct{} // patterns ending at this node
	anyTail  map[*Subscriber]struct{} // patterns ending in '**' after this node
	children int                      // patterns stored at or below this node
}

func newTopicIndex() *topicIndex {
	return &topicIndex{exact: make(map[string]map[*Subscriber]struct{})}
}

// add indexes s under the valid selector sel.
func (x *topicIndex) add(sel string, s *Subscriber) {
	var set map[*Subscriber]struct{}
	if !IsPattern(sel) {
		set = x.exact[sel]
		if set == nil {
			set = make(map[*Subscriber]struct{})
			x.exact[sel] = set
		}
	} else {
		set = x.patterns.slot(sel, true)
	}
	if len(set) == 0 {
		x.selectors++
	}
	set[s] = struct{}{}
}

// remove takes s out from under sel, pruning what is left empty.
func (x *topicIndex) remove(sel string, s *Subscriber) {
	if !IsPattern(sel) {
		set := x.exact[sel]
		if _, ok := set[s]; !ok {
			return
		}
		delete(set, s)
		if len(set) == 0 {
			delete(x.exact, sel)
			x.selectors--
		}
		return
	}
	if x.patterns.removeFrom(sel, s) {
		x.selectors--
	}
}

// slot returns the set for pattern sel below n, creating the path when
// create is set (nil otherwise when absent).
func (n *patternNode) slot(sel string, create bool) map[*Subscriber]struct{} {
	for {
		seg, rest, last := nextSegment(sel)
		if create {
			n.children++
		}
		if seg == "**" && last {
			if n.anyTail == nil && create {
				n.anyTail = make(map[*Subscriber]struct{})
			}
			return n.anyTail
		}
		next := n.star
		if seg != "*" {
			next = n.literal[seg]
		}
		if next == nil {
			if !create {
				return nil
			}
			next = &patternNode{}
			if seg == "*" {
				n.star = next
			} else {
				if n.literal == nil {
					n.literal = make(map[string]*patternNode)
				}
				n.literal[seg] = next
			}
		}
		n = next
		if last {
			if create {
				n.children++
			}
			if n.here == nil && create {
				n.here = make(map[*Subscriber]struct{})
			}
			return n.here
		}
		sel = rest
	}
}

// removeFrom removes s from pattern sel below n, pruning nodes left with
// no subscription. It reports whether the pattern has no subscriber left.
// Every node counts the subscriptions stored at or below it, one per
// (pattern, subscriber), so removal walks the path decrementing them.
func (n *patternNode) removeFrom(sel string, s *Subscriber) bool {
	set := n.slot(sel, false)
	if _, ok := set[s]; !ok {
		return false
	}
	delete(set, s)
	gone := len(set) == 0
	for {
		seg, rest, last := nextSegment(sel)
		n.children--
		if seg == "**" && last {
			if gone {
				n.anyTail = nil
			}
			return gone
		}
		next := n.star
		if seg != "*" {
			next = n.literal[seg]
		}
		if next.children == 1 {
			// This subscription is all that is left below: cut the branch.
			if seg == "*" {
				n.star = nil
			} else {
				delete(n.literal, seg)
			}
			return gone
		}
		n = next
		if last {
			n.children--
			if gone {
				n.here = nil
			}
			return gone
		}
		sel = rest
	}
}

// each calls fn for every subscriber with a selector matching topic; a
// subscriber with several matching selectors may be called more than once.
func (x *topicIndex) each(topic string, fn func(*Subscriber)) {
	for s := range x.exact[topic] {
		fn(s)
	}
	if x.patterns.children > 0 {
		x.patterns.match(topic, fn)
	}
}

func (n *patternNode) match(topic string, fn func(*Subscriber)) {
	for s := range n.anyTail { // '**' here matches the one or more segments left
		fn(s)
	}
	seg, rest, last := nextSegment(topic)
	for _, next := range [2]*patternNode{n.literal[seg], n.star} {
		if next == nil {
			continue
		}
		if last {
			for s := range next.here {
				fn(s)
			}
			continue
		}
		next.match(rest, fn)
	}
}
