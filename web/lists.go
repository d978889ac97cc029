package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"fleetfeed/feed"
	"fleetfeed/timeline"
)

// Lists: a user makes named lists of servers and tag queries, public or
// private, and anyone who may see one reads its timeline at /lists/{id},
// follows it, or subscribes to /lists/{id}.rss (a private list's feed
// takes its owner's ?token=).

func parseListID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, feed.Errorf(feed.ENOTFOUND, "no list %q", s)
	}
	return id, nil
}

func listPath(id int64) string { return "/lists/" + strconv.FormatInt(id, 10) }

// listsView is the lists page.
type listsView struct {
	SignedIn bool
	CSRF     string
	Own      []*timeline.List
	Public   []*timeline.List
	Followed map[int64]bool
}

// handleListsPage shows the visitor's lists and every public list.
func (s *Server) handleListsPage(w http.ResponseWriter, r *http.Request) {
	ctx, uid := r.Context(), userID(r)
	v := listsView{Followed: map[int64]bool{}}
	if uid != 0 {
		own, err := s.Follows.OwnLists(ctx, uid)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		g, err := s.Follows.Following(ctx, uid)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		for _, l := range g.Lists {
			v.Followed[l.ID] = true
		}
		v.SignedIn, v.Own, v.CSRF = true, own, s.csrfToken(w, r)
	}
	public, err := s.Follows.PublicLists(ctx)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	for _, l := range public {
		if l.OwnerID != uid || uid == 0 {
			v.Public = append(v.Public, l)
		}
	}
	s.render(w, r, http.StatusOK, "lists.html", pageData{
		Title: "Lists", Description: "Lists of servers and hashtag queries.", Section: "lists", Body: v,
	})
}

func (s *Server) handleCreateList(w http.ResponseWriter, r *http.Request) {
	l, err := s.Follows.CreateList(r.Context(), userID(r), r.PostFormValue("name"), r.PostFormValue("public") == "on")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, listPath(l.ID), http.StatusSeeOther)
}

// listView is a list's page.
type listView struct {
	List     *timeline.List
	Owner    bool
	CSRF     string
	Follow   *followButton
	Timeline timelineView
	// Actions are the RPCs an operator can run on the list's servers.
	Actions *actionMenu
}

// handleList is a list's page, or for "/lists/{id}.rss", ".atom" and
// ".json" its feed.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	base, format, isFeed := timeline.SplitFeedPath(raw)
	id, err := parseListID(base)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if isFeed {
		s.handleListFeed(w, r, id, format)
		return
	}
	uid := userID(r)
	l, err := s.Follows.List(r.Context(), uid, id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	tl, ok := s.readTimeline(w, r, listPath(id), "list:"+strconv.FormatInt(id, 10),
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) {
			return s.Follows.ListTimeline(ctx, uid, id, p)
		})
	if !ok {
		return
	}
	tl.Label = "Posts of the list " + l.Name
	tl.Empty = "No server of this list has posted yet."
	v := listView{List: l, Owner: uid != 0 && l.OwnerID == uid, Timeline: tl}
	if uid != 0 {
		v.CSRF = s.csrfToken(w, r)
		if !v.Owner {
			v.Follow = s.followButton(w, r, "list", strconv.FormatInt(id, 10))
		}
	}
	v.Actions = s.listActionMenu(r, l)
	s.render(w, r, http.StatusOK, "list.html", pageData{
		Title: l.Name, Description: "The list " + l.Name + " by " + l.Owner + ".", Section: "lists",
		Feeds: feedLinks(l.Name, listPath(id)), Body: v,
	})
}

// handleListFeed serves a list's feed to whoever may see the list: anyone
// for a public list, its owner (by session or feed token) for a private one.
func (s *Server) handleListFeed(w http.ResponseWriter, r *http.Request, id int64, format timeline.FeedFormat) {
	viewer := userID(r)
	if u := visitorOf(r).FeedUser; u != nil {
		viewer = u.ID
	}
	l, err := s.Follows.List(r.Context(), viewer, id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !l.Public {
		w.Header().Set("Cache-Control", "private")
	}
	s.serveFeed(w, r, format, listPath(id), listPath(id), l.Name+" on fleetfeed", "The list "+l.Name+" by "+l.Owner+".",
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) {
			return s.Follows.ListTimeline(ctx, viewer, id, p)
		})
}

// handleListPostsAPI is GET /api/v1/lists/{id}/posts.
func (s *Server) handleListPostsAPI(w http.ResponseWriter, r *http.Request) {
	id, err := parseListID(r.PathValue("id"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	p, ok := s.page(w, r)
	if !ok {
		return
	}
	posts, err := s.Follows.ListTimeline(r.Context(), userID(r), id, p)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writePosts(w, r, posts)
}

func (s *Server) handleEditList(w http.ResponseWriter, r *http.Request) {
	id, err := parseListID(r.PathValue("id"))
	if err == nil {
		err = s.Follows.UpdateList(r.Context(), userID(r), id, r.PostFormValue("name"), r.PostFormValue("public") == "on")
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, listPath(id), http.StatusSeeOther)
}

func (s *Server) handleDeleteList(w http.ResponseWriter, r *http.Request) {
	id, err := parseListID(r.PathValue("id"))
	if err == nil {
		err = s.Follows.DeleteList(r.Context(), userID(r), id)
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/lists", http.StatusSeeOther)
}

// handleListMember adds or removes a list's server (form field "node")
// or tag query (field "query").
func (s *Server) handleListMember(query, remove bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := parseListID(r.PathValue("id"))
		if err != nil {
			s.Error(w, r, err)
			return
		}
		ctx, uid := r.Context(), userID(r)
		switch {
		case query && remove:
			err = s.Follows.RemoveListQuery(ctx, uid, id, r.PostFormValue("query"))
		case query:
			err = s.Follows.AddListQuery(ctx, uid, id, r.PostFormValue("query"))
		case remove:
			err = s.Follows.RemoveListNode(ctx, uid, id, r.PostFormValue("node"))
		default:
			err = s.Follows.AddListNode(ctx, uid, id, strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("node")), "@"))
		}
		if err != nil {
			s.Error(w, r, err)
			return
		}
		http.Redirect(w, r, listPath(id), http.StatusSeeOther)
	}
}
