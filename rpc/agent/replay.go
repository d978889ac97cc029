package agent

import (
	"container/heap"
	"sync"
	"time"
)

// replayCache remembers request ids until their requests expire, so that
// a captured request cannot be run twice. It holds at most max ids; when
// full it forgets the one that expires first (and counts the eviction),
// since a request that old is the least useful to replay.
type replayCache struct {
	mu        sync.Mutex
	max       int
	seen      map[string]time.Time
	byExpiry  expiryHeap
	evictions uint64
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: map[string]time.Time{}}
}

// check records id, valid until expires, and reports whether it was
// already there (a replay).
func (c *replayCache) check(id string, expires, now time.Time) (replay bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.byExpiry) > 0 && !c.byExpiry[0].expires.After(now) {
		e := heap.Pop(&c.byExpiry).(entry)
		delete(c.seen, e.id)
	}
	if _, ok := c.seen[id]; ok {
		return true
	}
	for len(c.byExpiry) >= c.max {
		e := heap.Pop(&c.byExpiry).(entry)
		delete(c.seen, e.id)
		c.evictions++
	}
	c.seen[id] = expires
	heap.Push(&c.byExpiry, entry{id: id, expires: expires})
	return false
}

func (c *replayCache) evicted() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evictions
}

type entry struct {
	id      string
	expires time.Time
}

type expiryHeap []entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
