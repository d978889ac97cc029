package people

import (
	"sync"
	"time"

	"fleetfeed/feed"
)

// Limiter refuses sign-ins after too many failures for one user name or
// from one IP address within a window: it slows down password guessing
// without locking anyone out for long. It is in memory: a restart forgets.
type Limiter struct {
	// Failures is how many failed sign-ins a key may have in Window.
	Failures int
	Window   time.Duration
	// Now returns the current time; tests replace it.
	Now func() time.Time

	mu   sync.Mutex
	keys map[string][]time.Time
}

// NewLimiter returns a limiter allowing 5 failures per 15 minutes.
func NewLimiter() *Limiter {
	return &Limiter{Failures: 5, Window: 15 * time.Minute, Now: time.Now}
}

func limiterKeys(name, ip string) []string {
	var k []string
	if name != "" {
		k = append(k, "user:"+normalizeLimiterName(name))
	}
	if ip != "" {
		k = append(k, "ip:"+ip)
	}
	return k
}

func normalizeLimiterName(s string) string {
	b := []rune(s)
	for i, r := range b {
		if r >= 'A' && r <= 'Z' {
			b[i] = r + 'a' - 'A'
		}
	}
	return string(b)
}

// Allow returns nil when a sign-in for name from ip may be tried, and an
// EUNAUTHORIZED error saying how long to wait when either has failed too
// often. Call it before Authenticate.
func (l *Limiter) Allow(name, ip string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	var wait time.Duration
	for _, k := range limiterKeys(name, ip) {
		fails := l.prune(k, now)
		if len(fails) >= l.Failures {
			if w := fails[len(fails)-l.Failures].Add(l.Window).Sub(now); w > wait {
				wait = w
			}
		}
	}
	if wait > 0 {
		mins := int(wait.Minutes() + 0.999)
		unit := "minutes"
		if mins == 1 {
			unit = "minute"
		}
		return feed.Errorf(feed.EUNAUTHORIZED, "too many failed sign-ins; try again in %d %s", mins, unit)
	}
	return nil
}

// Fail records a failed sign-in for name from ip.
func (l *Limiter) Fail(name, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	if l.keys == nil {
		l.keys = map[string][]time.Time{}
	}
	for _, k := range limiterKeys(name, ip) {
		l.keys[k] = append(l.prune(k, now), now)
	}
	// Forget keys whose failures have all aged out, so that guessing
	// many names does not grow the map for ever.
	if len(l.keys) > 10000 {
		for k := range l.keys {
			if len(l.prune(k, now)) == 0 {
				delete(l.keys, k)
			}
		}
	}
}

// Succeed clears the user name's failures after a good sign-in (the IP
// address keeps its own: one good account does not license guessing).
func (l *Limiter) Succeed(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, "user:"+normalizeLimiterName(name))
}

// prune drops failures older than the window and returns the rest.
func (l *Limiter) prune(k string, now time.Time) []time.Time {
	fails := l.keys[k]
	i := 0
	for i < len(fails) && !fails[i].After(now.Add(-l.Window)) {
		i++
	}
	fails = fails[i:]
	if len(fails) == 0 {
		delete(l.keys, k)
		return nil
	}
	l.keys[k] = fails
	return fails
}
