package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"fleetfeed/feed"
	"fleetfeed/timeline"
)

// Search: /search?q=… is the page, /api/v1/search?q=… the API and
// /search.rss?q=… (.atom, .json) the feed, in the query language of
// timeline.ParseSearch: from:web01, #tag, severity:critical, words.

// searchView is the search page.
type searchView struct {
	Query    string
	Problem  string
	Searched bool
	Timeline timelineView
}

// handleSearchPage shows the search form and, with ?q=, a page of
// results; a query that does not parse is said on the page, with 400.
func (s *Server) handleSearchPage(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := searchView{Query: q}
	status := http.StatusOK
	if q != "" {
		if _, err := timeline.ParseSearch(q); err != nil {
			v.Problem, status = sentence(feed.ErrorMessage(err)), http.StatusBadRequest
		} else {
			tl, ok := s.readTimeline(w, r, "/search", "", func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) {
				return s.Timeline.Search(ctx, q, p)
			})
			if !ok {
				return
			}
			// readTimeline builds links from a bare path: put the query in.
			qs := "q=" + url.QueryEscape(q)
			tl.Older = strings.Replace(tl.Older, "/search?", "/search?"+qs+"&", 1)
			if tl.Newest != "" {
				tl.Newest = "/search?" + qs
			}
			tl.Live = false
			tl.Label = "Search results"
			tl.Empty = "No post matches."
			v.Searched, v.Timeline = true, tl
		}
	}
	d := pageData{Title: "Search", Section: "search", Body: v,
		Description: "Search the posts: words, #hashtags, from:server, severity:critical."}
	if v.Searched {
		d.Title = "Search: " + q
		for _, l := range feedLinks("Search: "+q, "/search") {
			l.Href += "?" + "q=" + url.QueryEscape(q)
			d.Feeds = append(d.Feeds, l)
		}
	}
	s.render(w, r, status, "search.html", d)
}

// handleSearchAPI is GET /api/v1/search?q=…, paged like the timelines.
func (s *Server) handleSearchAPI(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		s.Error(w, r, feed.Errorf(feed.EINVALID, "say what to search for with ?q="))
		return
	}
	p, ok := s.page(w, r)
	if !ok {
		return
	}
	posts, err := s.Timeline.Search(r.Context(), q, p)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writePosts(w, r, posts)
}

// handleSearchFeed serves /search.rss?q=…, .atom and .json.
func (s *Server) handleSearchFeed(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		s.Error(w, r, feed.Errorf(feed.EINVALID, "say what to search for with ?q="))
		return
	}
	if _, err := timeline.ParseSearch(q); err != nil {
		s.Error(w, r, err)
		return
	}
	_, format, _ := timeline.SplitFeedPath(r.URL.Path)
	s.serveFeed(w, r, format, "/search", "/search?q="+url.QueryEscape(q), "fleetfeed search: "+q,
		"Posts matching "+q+".",
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) { return s.Timeline.Search(ctx, q, p) })
}
