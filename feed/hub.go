package feed

import "sync"

// Notice kinds.
const (
	// NoticeUpdate: a new post was stored.
	NoticeUpdate = "update"
	// NoticeCount: an existing post's count grew (a repeat folded into it).
	NoticeCount = "update_count"
)

// Notice tells subscribers about a committed change to a post.
type Notice struct {
	Kind string
	Post *Post
}

// Hub publishes notices of committed posts to in-process subscribers. It
// never blocks on a subscriber: one whose buffer is full is dropped (its
// channel is closed and Dropped reports true), so a slow reader cannot hold
// up ingest or the other readers.
type Hub struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Subscription receives notices until it is closed or dropped.
type Subscription struct {
	hub     *Hub
	c       chan Notice
	mu      sync.Mutex
	closed  bool
	dropped bool
}

// Subscribe returns a subscription whose channel buffers up to buf notices.
func (h *Hub) Subscribe(buf int) *Subscription {
	if buf < 1 {
		buf = 1
	}
	s := &Subscription{hub: h, c: make(chan Notice, buf)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// C delivers notices; it is closed when the subscription ends.
func (s *Subscription) C() <-chan Notice { return s.c }

// Dropped reports whether the hub ended the subscription because its
// reader fell behind.
func (s *Subscription) Dropped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close ends the subscription; it is safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s)
	s.hub.mu.Unlock()
	s.end(false)
}

func (s *Subscription) end(dropped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.dropped = dropped
	close(s.c)
}

// Len is the number of live subscriptions.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// Publish delivers n to every subscriber without waiting for any of them.
func (h *Hub) Publish(n Notice) {
	var slow []*Subscription
	h.mu.RLock()
	for s := range h.subs {
		if !s.offer(n) {
			slow = append(slow, s)
		}
	}
	h.mu.RUnlock()
	if len(slow) == 0 {
		return
	}
	h.mu.Lock()
	for _, s := range slow {
		delete(h.subs, s)
	}
	h.mu.Unlock()
	for _, s := range slow {
		s.end(true)
	}
}

// offer sends without blocking; false means the buffer is full.
func (s *Subscription) offer(n Notice) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true
	}
	select {
	case s.c <- n:
		return true
	default:
		return false
	}
}
