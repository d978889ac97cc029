package web

import (
	"net/http"
	"strconv"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/timeline"
)

func (s *Server) page(w http.ResponseWriter, r *http.Request) (timeline.Page, bool) {
	p, err := timeline.ParsePage(r.URL.Query().Get)
	if err != nil {
		s.Error(w, r, err)
		return p, false
	}
	return p, true
}

// writePosts answers with a timeline page and a Link header to the older
// page, as Mastodon's API does.
func (s *Server) writePosts(w http.ResponseWriter, r *http.Request, posts []*feed.Post) {
	if n := len(posts); n > 0 {
		u := *r.URL
		q := u.Query()
		q.Del("since_id")
		q.Del("min_id")
		oldest := posts[n-1].ID
		if posts[0].ID < oldest {
			oldest = posts[0].ID
		}
		q.Set("max_id", strconv.FormatInt(oldest, 10))
		u.RawQuery = q.Encode()
		w.Header().Set("Link", "<"+u.RequestURI()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, posts)
}

func (s *Server) handlePublicTimeline(w http.ResponseWriter, r *http.Request) {
	p, ok := s.page(w, r)
	if !ok {
		return
	}
	posts, err := s.Timeline.Public(r.Context(), p)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writePosts(w, r, posts)
}

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) {
	list, err := s.Nodes.List(r.Context(), nodes.ListOptions{
		Datacenter: r.URL.Query().Get("datacenter"),
		Role:       r.URL.Query().Get("role"),
	})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if list == nil {
		list = []*nodes.Node{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleNode(w http.ResponseWriter, r *http.Request) {
	n, err := s.Nodes.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) handleNodePosts(w http.ResponseWriter, r *http.Request) {
	p, ok := s.page(w, r)
	if !ok {
		return
	}
	n, err := s.Nodes.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	posts, err := s.Timeline.Node(r.Context(), n.ID, p)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writePosts(w, r, posts)
}

func (s *Server) handleTagPosts(w http.ResponseWriter, r *http.Request) {
	p, ok := s.page(w, r)
	if !ok {
		return
	}
	posts, err := s.Timeline.Tag(r.Context(), r.PathValue("tag"), p)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writePosts(w, r, posts)
}

// postAnswer is a post with its whole thread, oldest first.
type postAnswer struct {
	Post   *feed.Post   `json:"post"`
	Thread []*feed.Post `json:"thread"`
}

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request) {
	id, err := feed.ParseID(r.PathValue("id"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	thread, err := s.Pipeline.DB.Thread(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ans := postAnswer{Thread: thread}
	for _, p := range thread {
		if p.ID == id {
			ans.Post = p
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Timeline.Stats(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
