package web

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"fleetfeed/feed"
	"fleetfeed/timeline"
)

// Feeds: every timeline is offered as RSS 2.0, Atom and JSON Feed, at its
// page's path plus the format's extension:
//
//	/public.rss  /public.atom  /public.json    the public timeline
//	/@web01.rss  /@web01.atom  /@web01.json    a server's posts
//	/tags/security.rss  …                      a hashtag's posts
//
// (The public timeline's page is "/", which has no name to extend, hence
// "/public".) Items link to the posts' pages by absolute URLs, built from
// Server.BaseURL or, when it is empty, from the request's Host. Answers
// carry an ETag and a Last-Modified computed from the posts without
// rendering, and a conditional request that matches gets a 304.

// feedPath is the path of the public timeline's feeds, without extension.
const feedPath = "/public"

// handlePublicFeed serves /public.rss, /public.atom and /public.json.
func (s *Server) handlePublicFeed(w http.ResponseWriter, r *http.Request) {
	_, format, _ := timeline.SplitFeedPath(r.URL.Path)
	s.serveFeed(w, r, format, feedPath, "/", "fleetfeed: public timeline",
		"What every server in the fleet says.", s.Timeline.Public)
}

// handleNodeFeed serves a server's feed; handleRoot calls it.
func (s *Server) handleNodeFeed(w http.ResponseWriter, r *http.Request, name string, format timeline.FeedFormat) {
	n, err := s.Nodes.Get(r.Context(), name)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if n.Name != name {
		redirectKeepingQuery(w, r, nodePath(n.Name)+"."+string(format), http.StatusFound)
		return
	}
	title := "@" + n.Name
	if dn := displayName(n); dn != n.Name {
		title = dn + " (@" + n.Name + ")"
	}
	s.serveFeed(w, r, format, nodePath(n.Name), nodePath(n.Name), title,
		"What the server @"+n.Name+" says.",
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) { return s.Timeline.Node(ctx, n.ID, p) })
}

// handleTagFeed serves a hashtag's feed; handleTag calls it.
func (s *Server) handleTagFeed(w http.ResponseWriter, r *http.Request, tag string, format timeline.FeedFormat) {
	s.serveFeed(w, r, format, tagPath(tag), tagPath(tag), "#"+tag+" on fleetfeed",
		"Posts tagged #"+tag+".",
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) { return s.Timeline.Tag(ctx, tag, p) })
}

var feedBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serveFeed reads the newest posts of a timeline (?limit= of them, 20 by
// default) and answers with them as a feed, or with 304 Not Modified.
func (s *Server) serveFeed(w http.ResponseWriter, r *http.Request, format timeline.FeedFormat, base, page, title, desc string, read timelineRead) {
	p, err := timeline.ParsePage(r.URL.Query().Get)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	posts, err := read(r.Context(), timeline.Page{Limit: p.Limit})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	abs := s.baseURL(r)
	meta := timeline.FeedMeta{
		Title:       title,
		Description: desc,
		PageURL:     abs + page,
		FeedURL:     abs + base + "." + string(format),
		PostURL:     func(p *feed.Post) string { return abs + postPath(p.ID) },
		TagURL:      func(t string) string { return abs + tagPath(t) },
		NodeURL:     func(n string) string { return abs + nodePath(n) },
	}
	if q := r.URL.Query().Get("q"); q != "" { // a search feed is its query
		meta.FeedURL += "?q=" + url.QueryEscape(q)
	}
	etag := timeline.FeedETag(format, meta, posts)
	modified := timeline.FeedUpdated(posts)
	h := w.Header()
	h.Set("ETag", etag)
	if !modified.IsZero() {
		h.Set("Last-Modified", modified.Format(http.TimeFormat))
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Host")
	if notModified(r, etag, modified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	buf := feedBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer feedBuffers.Put(buf)
	if err := timeline.WriteFeed(buf, format, meta, posts); err != nil {
		s.Error(w, r, err)
		return
	}
	h.Set("Content-Type", format.ContentType())
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// notModified evaluates If-None-Match, or, when the request has none,
// If-Modified-Since (RFC 9110, section 13.2.2).
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || modified.IsZero() {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	return !modified.Truncate(time.Second).After(since)
}

// baseURL is the scheme and host readers reach the server at: BaseURL
// when set, else what the request says.
func (s *Server) baseURL(r *http.Request) string {
	if s.BaseURL != "" {
		return strings.TrimRight(s.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
