package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"fleetfeed/feed"
	"fleetfeed/timeline"
)

// The live streams of people: "home" (what the signed-in user follows)
// and "list:{id}" (a list the user may see). Both filter the hub's
// notices in memory with the follows' Interests; resolveStream calls
// resolvePeopleStream for them.

// withStreamVisitor gives a streaming connection's context the visitor of
// the request that opened it: the connection outlives the request.
func withStreamVisitor(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, visitorKey{}, visitorOf(r))
}

// streamUserID is the signed-in user of a streaming connection, or 0.
func streamUserID(ctx context.Context) int64 {
	if v, ok := ctx.Value(visitorKey{}).(*visitor); ok {
		if u := v.user(); u != nil {
			return u.ID
		}
	}
	return 0
}

// listRecheck is how often a list stream reads its list again, to see
// new members and a list made private.
const listRecheck = time.Minute

// resolvePeopleStream resolves "home" and "list:{id}". The errors are
// EUNAUTHORIZED for home without a session, and ENOTFOUND for a list the
// user may not see.
func (s *Server) resolvePeopleStream(ctx context.Context, kind, arg string, hasArg bool) (*stream, error) {
	uid := streamUserID(ctx)
	switch {
	case kind == "home" && !hasArg:
		if uid == 0 {
			return nil, feed.Errorf(feed.EUNAUTHORIZED, "sign in to follow your home timeline")
		}
		return &stream{
			name: "home",
			match: func(p *feed.Post) bool {
				// Interests are cached by Follows: no SQL per notice.
				in, err := s.Follows.Interests(context.Background(), uid)
				return err == nil && in.Matches(p)
			},
			read: func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) { return s.Follows.Home(ctx, uid, p) },
		}, nil
	case kind == "list":
		id, err := parseListID(arg)
		if err != nil {
			return nil, err
		}
		in, err := s.Follows.ListInterests(ctx, uid, id)
		if err != nil {
			return nil, err
		}
		lm := &listMatcher{s: s, uid: uid, id: id, in: in, at: time.Now()}
		return &stream{
			name:  "list:" + strconv.FormatInt(id, 10),
			match: lm.match,
			read: func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) {
				return s.Follows.ListTimeline(ctx, uid, id, p)
			},
		}, nil
	}
	return nil, feed.Errorf(feed.EINVALID, "%q is not a stream; use home or list:{id}", kind+":"+arg)
}

// listMatcher matches a list's posts, reading the list again every
// listRecheck; a list that the user may no longer see matches nothing.
type listMatcher struct {
	s       *Server
	uid, id int64

	mu sync.Mutex
	in *timeline.Interests
	at time.Time
}

func (m *listMatcher) match(p *feed.Post) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.at) > listRecheck {
		in, err := m.s.Follows.ListInterests(context.Background(), m.uid, m.id)
		if err != nil {
			in = nil
		}
		m.in, m.at = in, time.Now()
	}
	return m.in != nil && m.in.Matches(p)
}
