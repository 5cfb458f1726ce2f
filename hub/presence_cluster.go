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

import "time"

// This file lets a log share presence with the hub's other instances
// (the Redis transport does). Without one, which is the memory log's
// case, nothing here runs and presence is this process's alone.
//
// With a cluster, the hub's own occupied, vacated, join and leave (after
// its grace) are this instance's; it hands them to the cluster instead of
// reporting them. The cluster finds out which of them are the cluster's
// (the first instance with a member or a stream, or the last) and calls
// ClusterEvent on every instance for each: each instance tells its own
// presence=on streams, and the one instance that made the change tells
// the observer, so a webhook goes out once per cluster.

// PresenceCluster is a hub's membership shared with its other instances.
type PresenceCluster interface {
	// Track starts (h non-nil) or stops (nil) sharing this instance's
	// membership. It is called with the hub's lock held and must not
	// block or call the hub back before returning.
	Track(h *Hub)
	// Local is handed, with the hub's lock held and in order, each of this
	// instance's occupied, vacated, join and leave; it must not block.
	Local(PresenceEvent)
	// Members returns the members of topic on every live instance.
	Members(topic string) ([]ClusterMember, error)
}

// ClusterMember is one identity on a topic across the cluster.
type ClusterMember struct {
	Identity string
	// Instances is how many live instances have it.
	Instances int
	// Since is when it joined its earliest instance.
	Since time.Time
}

// PresenceClusterLog is a log that shares presence across instances.
type PresenceClusterLog interface {
	Log
	PresenceCluster() PresenceCluster
}

// clusterOf returns the hub's log's cluster, or nil.
func (h *Hub) clusterOf() PresenceCluster {
	if l, ok := h.log.(PresenceClusterLog); ok {
		return l.PresenceCluster()
	}
	return nil
}

// ClusterEvent is the cluster's report of a cluster-level occupied,
// vacated, join or leave: it goes to this instance's presence=on streams
// on the topic and, if claimed (this instance made the change), to the
// observer.
func (h *Hub) ClusterEvent(e PresenceEvent, claimed bool) {
	defer h.flushPresence()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pres == nil {
		return
	}
	if claimed {
		h.emitLocked(e)
	}
	if e.Type == PresenceJoin || e.Type == PresenceLeave {
		if tp := h.pres.topics[e.Topic]; tp != nil {
			h.tellWatchersLocked(e.Type, e.Topic, tp, e.Identity, e.Count)
			h.dropSlowWatchersLocked()
		}
	}
}

// mergeCluster adds the cluster's members to this instance's: a member
// only elsewhere shows one stream per instance it is on, for the stream
// counts of other instances are not shared.
func (h *Hub) mergeCluster(c PresenceCluster, info *PresenceInfo) {
	members, err := c.Members(info.Topic)
	if err != nil {
		return // Redis is down: this instance's view is the best there is
	}
	local := make(map[string]int, len(info.Members))
	for i, m := range info.Members {
		local[m.Identity] = i
	}
	for _, cm := range members {
		i, ok := local[cm.Identity]
		if !ok {
			info.Members = append(info.Members, PresenceMember{Identity: cm.Identity, Streams: cm.Instances, Since: cm.Since})
			continue
		}
		m := &info.Members[i]
		m.Streams += cm.Instances - 1 // this instance is one of them
		if !cm.Since.IsZero() && cm.Since.Before(m.Since) {
			m.Since = cm.Since
		}
	}
}
