package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/timeline"
	"fleetfeed/timeline/mail"
	"fleetfeed/timeline/people"
)

// peopleRoutes registers the routes of accounts, follows, lists, private
// feeds, search, the map and e-mail. Every POST route checks its CSRF
// token before anything else; routes that need an account are wrapped in
// requireRole.
func (s *Server) peopleRoutes() {
	page := func(pattern string, h http.HandlerFunc) { s.mux.HandleFunc("GET "+pattern, htmlPage(h)) }
	post := func(pattern string, h http.HandlerFunc) {
		s.postRoutes = append(s.postRoutes, pattern)
		s.mux.HandleFunc("POST "+pattern, htmlPage(s.checkCSRF(h)))
	}
	viewer := func(h http.HandlerFunc) http.HandlerFunc { return s.requireRole(people.RoleViewer, h) }
	admin := func(h http.HandlerFunc) http.HandlerFunc { return s.requireRole(people.RoleAdmin, h) }

	page("/login", s.handleLoginPage)
	post("/login", s.handleLogin)
	post("/logout", s.handleLogout)

	post("/follow", viewer(s.handleFollow))
	post("/unfollow", viewer(s.handleUnfollow))
	s.mux.HandleFunc("GET /api/v1/timelines/home", viewer(s.handleHomeTimelineAPI))
	s.mux.HandleFunc("GET /home.rss", s.handleHomeFeed)
	s.mux.HandleFunc("GET /home.atom", s.handleHomeFeed)
	s.mux.HandleFunc("GET /home.json", s.handleHomeFeed)

	page("/lists", s.handleListsPage)
	post("/lists", viewer(s.handleCreateList))
	page("/lists/{id}", s.handleList) // and /lists/{id}.rss, .atom, .json
	post("/lists/{id}/edit", viewer(s.handleEditList))
	post("/lists/{id}/delete", viewer(s.handleDeleteList))
	post("/lists/{id}/nodes", viewer(s.handleListMember(false, false)))
	post("/lists/{id}/nodes/remove", viewer(s.handleListMember(false, true)))
	post("/lists/{id}/queries", viewer(s.handleListMember(true, false)))
	post("/lists/{id}/queries/remove", viewer(s.handleListMember(true, true)))
	s.mux.HandleFunc("GET /api/v1/lists/{id}/posts", s.handleListPostsAPI)

	page("/settings", viewer(s.handleSettings))
	post("/settings/email", viewer(s.handleSetEmail))
	post("/settings/mail", viewer(s.handleSetMailPrefs))
	post("/settings/feed-token", viewer(s.handleNewFeedToken))
	post("/settings/feed-token/revoke", viewer(s.handleRevokeFeedToken))
	page("/unsubscribe", s.handleUnsubscribePage)
	post("/unsubscribe", s.handleUnsubscribe)

	page("/admin/mail", admin(s.handleAdminMail))
	post("/admin/mail", admin(s.handleAdminMailSave))
	post("/admin/mail/retry", admin(s.handleAdminMailRetry))
	post("/nodes/{name}/profile", admin(s.handleProfileSave))

	page("/search", s.handleSearchPage)
	s.mux.HandleFunc("GET /search.rss", s.handleSearchFeed)
	s.mux.HandleFunc("GET /search.atom", s.handleSearchFeed)
	s.mux.HandleFunc("GET /search.json", s.handleSearchFeed)
	s.mux.HandleFunc("GET /api/v1/search", s.handleSearchAPI)

	page("/map", s.handleMap)
	page("/map/{datacenter}", s.handleDatacenter)
	s.mux.HandleFunc("GET /api/v1/datacenters", s.handleDatacentersAPI)
}

// timelinePage is the body of timeline.html.
type timelinePage struct {
	Heading, Intro string
	Timeline       timelineView
	Follow         *followButton
}

// followButton is a form that follows or unfollows a server, a hashtag
// or a list, and comes back to the page it is on.
type followButton struct {
	Kind, Name, Label string
	Following         bool
	CSRF, Next        string
}

// followButton returns the button for a signed-in visitor, nil for others.
func (s *Server) followButton(w http.ResponseWriter, r *http.Request, kind, name string) *followButton {
	u := currentUser(r)
	if u == nil {
		return nil
	}
	g, err := s.Follows.Following(r.Context(), u.ID)
	if err != nil {
		s.Logger.Error("read follows", "user", u.ID, "err", err)
		return nil
	}
	b := &followButton{Kind: kind, Name: name, CSRF: s.csrfToken(w, r), Next: r.URL.RequestURI()}
	switch kind {
	case "node":
		b.Following, b.Label = g.FollowsNode(name), "@"+name
	case "tag":
		b.Following, b.Label = g.FollowsTag(name), "#"+name
	case "list":
		id, _ := strconv.ParseInt(name, 10, 64)
		b.Following, b.Label = g.FollowsList(id), "this list"
	}
	return b
}

func (s *Server) handleFollow(w http.ResponseWriter, r *http.Request)   { s.follow(w, r, true) }
func (s *Server) handleUnfollow(w http.ResponseWriter, r *http.Request) { s.follow(w, r, false) }

// follow follows or unfollows the form's node, tag or list, and goes back
// to the form's page.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, on bool) {
	uid, ctx := userID(r), r.Context()
	var err error
	switch node, tag, list := r.PostFormValue("node"), r.PostFormValue("tag"), r.PostFormValue("list"); {
	case node != "" && on:
		err = s.Follows.FollowNode(ctx, uid, node)
	case node != "":
		err = s.Follows.UnfollowNode(ctx, uid, node)
	case tag != "" && on:
		err = s.Follows.FollowTag(ctx, uid, tag)
	case tag != "":
		err = s.Follows.UnfollowTag(ctx, uid, tag)
	case list != "":
		var id int64
		if id, err = parseListID(list); err == nil {
			if on {
				err = s.Follows.FollowList(ctx, uid, id)
			} else {
				err = s.Follows.UnfollowList(ctx, uid, id)
			}
		}
	default:
		err = feed.Errorf(feed.EINVALID, "say which server, hashtag or list to follow")
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// handleHomeTimeline is the signed-in user's home page: the posts of what
// they follow, live.
func (s *Server) handleHomeTimeline(w http.ResponseWriter, r *http.Request, u *people.User) {
	v, ok := s.readTimeline(w, r, "/", "home", func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) {
		return s.Follows.Home(ctx, u.ID, p)
	})
	if !ok {
		return
	}
	v.Label = "Home timeline"
	v.Empty = "Nothing here yet: follow servers and hashtags from their pages, or follow a list."
	s.render(w, r, http.StatusOK, "timeline.html", pageData{
		Title:       "Home",
		Description: "The posts of the servers, hashtags and lists you follow.",
		Section:     "home",
		Body: timelinePage{Heading: "Home", Timeline: v,
			Intro: "The posts of the servers, hashtags and lists you follow, newest first. Your private feeds are on the settings page."},
	})
}

// handleHomeTimelineAPI is GET /api/v1/timelines/home, for a session.
func (s *Server) handleHomeTimelineAPI(w http.ResponseWriter, r *http.Request) {
	p, ok := s.page(w, r)
	if !ok {
		return
	}
	posts, err := s.Follows.Home(r.Context(), userID(r), p)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writePosts(w, r, posts)
}

// handleHomeFeed serves /home.rss, .atom and .json to the owner of the
// feed token in ?token=.
func (s *Server) handleHomeFeed(w http.ResponseWriter, r *http.Request) {
	u := visitorOf(r).FeedUser
	if u == nil {
		s.Error(w, r, feed.Errorf(feed.EUNAUTHORIZED, "this feed needs your feed token: see the settings page"))
		return
	}
	_, format, _ := timeline.SplitFeedPath(r.URL.Path)
	w.Header().Set("Cache-Control", "private")
	s.serveFeed(w, r, format, "/home", "/", "fleetfeed: "+u.Name+"'s home",
		"The posts of what "+u.Name+" follows.",
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) { return s.Follows.Home(ctx, u.ID, p) })
}

// settingsView is the settings page.
type settingsView struct {
	User      *people.User
	CSRF      string
	Prefs     mail.Prefs
	MailOn    bool
	Following *timeline.Following
	// NewToken is a feed token just made, shown this once, with the
	// feeds it opens.
	NewToken string
	Feeds    []feedLink
	Notice   string
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	s.renderSettings(w, r, "", r.URL.Query().Get("saved"))
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, newToken, notice string) {
	ctx, u := r.Context(), currentUser(r)
	prefs, err := s.Mail.Prefs(ctx, u.ID)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	set, err := s.Mail.Settings(ctx)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	g, err := s.Follows.Following(ctx, u.ID)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	fresh, err := s.People.Get(ctx, u.ID) // the session's copy may predate a change
	if err != nil {
		s.Error(w, r, err)
		return
	}
	v := settingsView{User: fresh, CSRF: s.csrfToken(w, r), Prefs: prefs, MailOn: set.Enabled(), Following: g, NewToken: newToken}
	switch notice {
	case "email":
		v.Notice = "Your e-mail address is saved."
	case "mail":
		v.Notice = "Your e-mail preferences are saved."
	case "revoked":
		v.Notice = "Your feed token is revoked: your private feeds no longer open."
	}
	if newToken != "" {
		abs := s.baseURL(r)
		for _, l := range feedLinks("Home", "/home") {
			l.Href = abs + l.Href + "?token=" + url.QueryEscape(newToken)
			v.Feeds = append(v.Feeds, l)
		}
	}
	s.render(w, r, http.StatusOK, "settings.html", pageData{Title: "Settings", Section: "settings", Body: v})
}

func (s *Server) handleSetEmail(w http.ResponseWriter, r *http.Request) {
	if err := s.People.SetEmail(r.Context(), userID(r), r.PostFormValue("email")); err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings?saved=email", http.StatusSeeOther)
}

func (s *Server) handleSetMailPrefs(w http.ResponseWriter, r *http.Request) {
	p := mail.Prefs{Critical: r.PostFormValue("critical") == "on", Digest: r.PostFormValue("digest") == "on"}
	if err := s.Mail.SetPrefs(r.Context(), userID(r), p); err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings?saved=mail", http.StatusSeeOther)
}

// handleNewFeedToken makes a new feed token and shows it, once.
func (s *Server) handleNewFeedToken(w http.ResponseWriter, r *http.Request) {
	tok, err := s.People.NewFeedToken(r.Context(), userID(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderSettings(w, r, tok, "")
}

func (s *Server) handleRevokeFeedToken(w http.ResponseWriter, r *http.Request) {
	if err := s.People.RevokeFeedToken(r.Context(), userID(r)); err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings?saved=revoked", http.StatusSeeOther)
}

// unsubscribeView is the unsubscribe page: a confirmation form, then
// what was done.
type unsubscribeView struct {
	Token, CSRF string
	Done        bool
	Kind        string
}

// handleUnsubscribePage asks to confirm: mail scanners open links, and
// only a person should unsubscribe.
func (s *Server) handleUnsubscribePage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	_, kind, err := s.Mail.VerifyUnsubscribe(r.Context(), tok)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribe.html", pageData{Title: "Unsubscribe",
		Body: unsubscribeView{Token: tok, CSRF: s.csrfToken(w, r), Kind: mailKindLabel(kind)}})
}

func (s *Server) handleUnsubscribe(w http.ResponseWriter, r *http.Request) {
	_, kind, err := s.Mail.Unsubscribe(r.Context(), r.PostFormValue("token"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribe.html", pageData{Title: "Unsubscribed",
		Body: unsubscribeView{Done: true, Kind: mailKindLabel(kind)}})
}

func mailKindLabel(kind string) string {
	if kind == mail.KindDigest {
		return "the daily digest"
	}
	return "mail about critical posts"
}

// adminMailView is the administrators' mail page.
type adminMailView struct {
	CSRF        string
	Settings    mail.Settings
	HasPassword bool
	Securities  []mail.Security
	Failing     []*mail.OutboxItem
	Notice      string
}

func (s *Server) handleAdminMail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	set, err := s.Mail.Settings(ctx)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	failing, err := s.Mail.Outbox(ctx, mail.OutboxFilter{Failing: true})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	v := adminMailView{CSRF: s.csrfToken(w, r), Settings: set, HasPassword: set.Password != "",
		Securities: []mail.Security{mail.StartTLS, mail.TLS, mail.None}, Failing: failing}
	v.Settings.Password = "" // never sent back to the browser
	if v.Settings.Security == "" {
		v.Settings.Security = mail.StartTLS
	}
	switch r.URL.Query().Get("saved") {
	case "settings":
		v.Notice = "The SMTP settings are saved."
	case "retry":
		v.Notice = "The mail will be tried again shortly."
	}
	s.render(w, r, http.StatusOK, "admin_mail.html", pageData{Title: "E-mail settings", Section: "admin", Body: v})
}

func (s *Server) handleAdminMailSave(w http.ResponseWriter, r *http.Request) {
	port := 0
	if p := strings.TrimSpace(r.PostFormValue("port")); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			s.Error(w, r, feed.Errorf(feed.EINVALID, "SMTP port %q is not a number", p))
			return
		}
		port = n
	}
	set := mail.Settings{
		Host:     strings.TrimSpace(r.PostFormValue("host")),
		Port:     port,
		Username: strings.TrimSpace(r.PostFormValue("username")),
		Password: r.PostFormValue("password"),
		From:     strings.TrimSpace(r.PostFormValue("from")),
		Security: mail.Security(r.PostFormValue("security")),
	}
	if err := s.Mail.SetSettings(r.Context(), set, set.Password == ""); err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/mail?saved=settings", http.StatusSeeOther)
}

func (s *Server) handleAdminMailRetry(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil {
		s.Error(w, r, feed.Errorf(feed.EINVALID, "%q is not a mail id", r.PostFormValue("id")))
		return
	}
	if err := s.Mail.Retry(r.Context(), id); err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/mail?saved=retry", http.StatusSeeOther)
}

// profileForm is the administrators' form for a server's profile.
type profileForm struct {
	CSRF, Action                                               string
	DisplayName, Bio, Contact, Datacenter, Latitude, Longitude string
}

func newProfileForm(n *nodes.Node, csrf string) *profileForm {
	f := &profileForm{CSRF: csrf, Action: "/nodes/" + url.PathEscape(n.Name) + "/profile",
		DisplayName: n.DisplayName, Bio: n.Bio, Contact: n.Contact, Datacenter: n.Location.Datacenter}
	if n.Location.Latitude != nil && n.Location.Longitude != nil {
		f.Latitude = strconv.FormatFloat(*n.Location.Latitude, 'f', -1, 64)
		f.Longitude = strconv.FormatFloat(*n.Location.Longitude, 'f', -1, 64)
	}
	return f
}

// handleProfileSave saves an administrator's edit of a server's profile.
func (s *Server) handleProfileSave(w http.ResponseWriter, r *http.Request) {
	n, err := s.Nodes.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	field := func(k string) *string { v := strings.TrimSpace(r.PostFormValue(k)); return &v }
	loc := &nodes.Location{Datacenter: *field("datacenter")}
	lat, lon := *field("latitude"), *field("longitude")
	if lat != "" || lon != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		lo, err2 := strconv.ParseFloat(lon, 64)
		if err1 != nil || err2 != nil {
			s.Error(w, r, feed.Errorf(feed.EINVALID, "latitude and longitude are numbers in degrees, like 52.37 and 4.9"))
			return
		}
		loc.Latitude, loc.Longitude = &la, &lo
	}
	p := nodes.Profile{DisplayName: field("display_name"), Bio: field("bio"), Contact: field("contact"), Location: loc}
	if _, err := s.Nodes.Upsert(r.Context(), n.Name, p); err != nil {
		s.Error(w, r, err)
		return
	}
	http.Redirect(w, r, nodePath(n.Name), http.StatusSeeOther)
}
