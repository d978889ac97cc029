package broker

import (
	"container/list"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/go-stomp/stomp/v3/server"
)

// HeaderExpires is the header that carries a message's expiry time in
// milliseconds since the Unix epoch, as ActiveMQ spells it. The embedded
// broker drops a queued message once that time has passed.
const HeaderExpires = "expires"

// HeaderExpiration is RabbitMQ's per-message TTL header: milliseconds,
// relative to when the broker received the message. Send sets it
// alongside HeaderExpires so that either kind of broker expires the message.
const HeaderExpiration = "expiration"

// expiringStorage is a server.QueueStorage that keeps frames in memory,
// like go-stomp's own, but drops frames whose "expires" header has passed:
// on Enqueue and Requeue (never stored), on Dequeue (skipped), and in a
// periodic sweep so that a queue nobody reads does not hold expired frames
// for ever.
//
// go-stomp's request loop calls Enqueue, Requeue and Dequeue from one
// goroutine; the mutex is for the sweeper and for Stats.
type expiringStorage struct {
	now   func() time.Time
	sweep time.Duration

	mu      sync.Mutex
	queues  map[string]*list.List
	depth   int
	stopped bool
	quit    chan struct{}
	wg      sync.WaitGroup

	expired atomic.Uint64
}

var _ server.QueueStorage = (*expiringStorage)(nil)

func newExpiringStorage(now func() time.Time, sweep time.Duration) *expiringStorage {
	if now == nil {
		now = time.Now
	}
	return &expiringStorage{now: now, sweep: sweep, queues: make(map[string]*list.List)}
}

// expiresAt returns the frame's expiry time; ok is false when it has none.
// A missing, zero or malformed header means "never", as in ActiveMQ.
func expiresAt(f *frame.Frame) (t time.Time, ok bool) {
	v, found := f.Header.Contains(HeaderExpires)
	if !found {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

func isExpired(f *frame.Frame, now time.Time) bool {
	t, ok := expiresAt(f)
	return ok && !now.Before(t)
}

// Enqueue adds f to the back of queue unless it has already expired.
func (s *expiringStorage) Enqueue(queue string, f *frame.Frame) error {
	return s.put(queue, f, false)
}

// Requeue puts f back at the head of queue (a consumer did not
// acknowledge it) unless it has expired meanwhile.
func (s *expiringStorage) Requeue(queue string, f *frame.Frame) error {
	return s.put(queue, f, true)
}

func (s *expiringStorage) put(queue string, f *frame.Frame, front bool) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		// The broker is closing: go-stomp still requeues the unacked
		// frames of the connections it tears down. They die with it.
		return nil
	}
	if isExpired(f, now) {
		s.expired.Add(1)
		return nil
	}
	l, ok := s.queues[queue]
	if !ok {
		l = list.New()
		s.queues[queue] = l
	}
	if front {
		l.PushFront(f)
	} else {
		l.PushBack(f)
	}
	s.depth++
	return nil
}

// Dequeue removes and returns the first unexpired frame of queue, or nil.
// Expired frames in front of it are discarded.
func (s *expiringStorage) Dequeue(queue string) (*frame.Frame, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.queues[queue]
	if !ok {
		return nil, nil
	}
	defer func() {
		if l.Len() == 0 {
			// Per-node queues come and go; do not keep their lists.
			delete(s.queues, queue)
		}
	}()
	for e := l.Front(); e != nil; e = l.Front() {
		f := l.Remove(e).(*frame.Frame)
		s.depth--
		if isExpired(f, now) {
			s.expired.Add(1)
			continue
		}
		return f, nil
	}
	return nil, nil
}

// Start starts the sweeper. go-stomp's server never calls it; Embedded does.
func (s *expiringStorage) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sweep <= 0 || s.quit != nil {
		return
	}
	s.quit = make(chan struct{})
	s.wg.Add(1)
	go s.sweeper(s.quit)
}

// Stop stops the sweeper and discards every stored frame.
func (s *expiringStorage) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.queues = make(map[string]*list.List)
	s.depth = 0
	if s.quit != nil {
		close(s.quit)
		s.quit = nil
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *expiringStorage) sweeper(quit <-chan struct{}) {
	defer s.wg.Done()
	t := time.NewTicker(s.sweep)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
			s.removeExpired()
		}
	}
}

// removeExpired drops every expired frame from every queue.
func (s *expiringStorage) removeExpired() {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, l := range s.queues {
		for e := l.Front(); e != nil; {
			next := e.Next()
			if isExpired(e.Value.(*frame.Frame), now) {
				l.Remove(e)
				s.depth--
				s.expired.Add(1)
			}
			e = next
		}
		if l.Len() == 0 {
			delete(s.queues, name)
		}
	}
}

// stats returns the number of stored frames and of frames dropped as expired.
func (s *expiringStorage) stats() (queued int, expired uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.depth, s.expired.Load()
}
