package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"fleetfeed/assets"
	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/timeline"
	"fleetfeed/timeline/people"
	"fleetfeed/translators"
)

// ui is the pages' templates and static files, loaded once at start.
type ui struct {
	pages  map[string]*template.Template
	static map[string]staticFile // by hashed name, e.g. "app.3f9a1c0b2d4e.js"
	urls   assetURLs
}

// staticFile is a file served under /static/ with its content hash in its
// name, so that it can be cached for good.
type staticFile struct {
	body        []byte
	contentType string
	etag        string
}

// assetURLs are the hashed URLs of the files every page links.
type assetURLs struct {
	CSS, JS, Icon string
	// Map is the map page's script, World its world map.
	Map, World string
}

// pageTemplates are the page templates; each is parsed with the layout and
// the partials.
var pageTemplates = []string{"timeline.html", "profile.html", "post.html", "error.html",
	"login.html", "lists.html", "list.html", "settings.html", "admin_mail.html", "search.html",
	"map.html", "datacenter.html", "unsubscribe.html", "actions.html", "admin_rules.html", "admin_audit.html"}

// loadUI parses the templates and hashes the static files.
func loadUI() (*ui, error) {
	u := &ui{pages: map[string]*template.Template{}, static: map[string]staticFile{}}
	for _, name := range pageTemplates {
		t, err := template.New(name).ParseFS(assets.Templates, "layout.html", "partials.html", name)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		u.pages[name] = t
	}
	urls := map[string]string{}
	err := fs.WalkDir(assets.Static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assets.Static, name)
		if err != nil {
			return err
		}
		u.addStatic(name, body, urls)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	u.addStatic("world.svg", assets.WorldSVG, urls)
	u.urls = assetURLs{CSS: urls["app.css"], JS: urls["app.js"], Icon: urls["icon.svg"], Map: urls["map.js"], World: urls["world.svg"]}
	if u.urls.CSS == "" || u.urls.JS == "" || u.urls.Icon == "" || u.urls.Map == "" || u.urls.World == "" {
		return nil, fmt.Errorf("static files: app.css, app.js, map.js, icon.svg or world.svg missing")
	}
	return u, nil
}

// addStatic serves body under /static/ with its content hash in its name,
// and records the URL in urls by name.
func (u *ui) addStatic(name string, body []byte, urls map[string]string) {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:6])
	ext := path.Ext(name)
	hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
	ct := mime.TypeByExtension(ext)
	if ct == "" {
		ct = "application/octet-stream"
	}
	u.static[hashed] = staticFile{body: body, contentType: ct, etag: `"` + hash + `"`}
	urls[name] = "/static/" + hashed
}

// mustLoadUI is loadUI for NewServer: the files are embedded, so an error
// is a bug the tests catch.
func mustLoadUI() *ui {
	u, err := loadUI()
	if err != nil {
		panic(err)
	}
	return u
}

// pageData is what the layout renders; Body is the page's own data.
type pageData struct {
	Title       string
	Description string
	// Section names the navigation entry that is current.
	Section string
	// Feeds are the page's timeline in feed formats, for <link
	// rel="alternate"> and the footer.
	Feeds  []feedLink
	Assets assetURLs
	// Scripts are the page's own scripts, after app.js.
	Scripts []string
	// User is the signed-in user, nil for an anonymous visitor; CSRF a
	// token for the layout's sign-out form.
	User *people.User
	CSRF string
	Body any
}

// feedLink is one feed of the page's timeline.
type feedLink struct {
	Title, Label, Type, Href string
}

// feedLinks offers the feed at base (a path without extension) in every
// format.
func feedLinks(title, base string) []feedLink {
	links := make([]feedLink, 0, len(timeline.FeedFormats))
	for _, f := range timeline.FeedFormats {
		ct, _, _ := strings.Cut(f.ContentType(), ";")
		links = append(links, feedLink{
			Title: title + " (" + f.Name() + ")", Label: f.Name(), Type: ct, Href: base + "." + string(f),
		})
	}
	return links
}

type pageKey struct{}

// htmlPage marks a request as one for a web page, so that s.Error answers
// it with an HTML page rather than JSON.
func htmlPage(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(context.WithValue(r.Context(), pageKey{}, true)))
	}
}

func isPage(r *http.Request) bool {
	v, _ := r.Context().Value(pageKey{}).(bool)
	return v
}

// render executes a page template into a buffer first, so that a failed
// template is a clean error answer and not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.Assets = s.ui.urls
	if d.User = currentUser(r); d.User != nil {
		d.CSRF = s.csrfToken(w, r)
	}
	var buf bytes.Buffer
	if err := s.ui.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		s.Logger.Error("render page", "template", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// errorPage answers a page request with an error page; s.Error calls it.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error.html", pageData{
		Title: http.StatusText(status),
		Body:  struct{ Heading, Message string }{http.StatusText(status), sentence(msg)},
	})
}

// handleStatic serves a static file by its hashed name; the name changes
// with the content, so the answer can be cached for a year.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := s.ui.static[r.PathValue("file")]
	if !ok {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "no static file %q", r.PathValue("file")))
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.Method != http.MethodHead {
		w.Write(f.body)
	}
}

// timelineView is a page of a timeline, newest first.
type timelineView struct {
	// Label names the list for screen readers.
	Label string
	// Live pages follow Stream from Since over the websocket.
	Live   bool
	Stream string
	Since  string
	Posts  []postView
	// Empty is said when there are no posts.
	Empty string
	// Older and Newest link the next page and the first one.
	Older, Newest string
}

// timelineRead reads one page of a timeline.
type timelineRead func(ctx context.Context, p timeline.Page) ([]*feed.Post, error)

// readTimeline reads the page the request asks for. The newest page is
// live: it reads the latest post id first, so that following the stream
// from it misses nothing committed after the page was read.
func (s *Server) readTimeline(w http.ResponseWriter, r *http.Request, pagePath, stream string, read timelineRead) (timelineView, bool) {
	p, ok := s.page(w, r)
	if !ok {
		return timelineView{}, false
	}
	v := timelineView{Live: p.MaxID == 0 && p.SinceID == 0 && p.MinID == 0, Stream: stream}
	if v.Live {
		since, err := s.Timeline.LatestID(r.Context())
		if err != nil {
			s.Error(w, r, err)
			return v, false
		}
		v.Since = feed.FormatID(since)
	} else {
		v.Newest = pagePath
	}
	posts, err := read(r.Context(), p)
	if err != nil {
		s.Error(w, r, err)
		return v, false
	}
	now := s.now()
	for _, post := range posts {
		v.Posts = append(v.Posts, newPostView(post, now))
	}
	if n := len(posts); n > 0 && n >= effectiveLimit(p) && p.MinID == 0 {
		q := url.Values{}
		if p.Limit > 0 {
			q.Set("limit", strconv.Itoa(p.Limit))
		}
		q.Set("max_id", feed.FormatID(posts[n-1].ID))
		v.Older = pagePath + "?" + q.Encode()
	}
	return v, true
}

func effectiveLimit(p timeline.Page) int {
	switch {
	case p.Limit <= 0:
		return timeline.DefaultLimit
	case p.Limit > timeline.MaxLimit:
		return timeline.MaxLimit
	}
	return p.Limit
}

// handleHome is the signed-in user's home timeline, or for anonymous
// visitors the public timeline.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	if u := currentUser(r); u != nil {
		s.handleHomeTimeline(w, r, u)
		return
	}
	v, ok := s.readTimeline(w, r, "/", "public", s.Timeline.Public)
	if !ok {
		return
	}
	v.Label = "Public timeline"
	v.Empty = "No server has posted yet."
	s.render(w, r, http.StatusOK, "timeline.html", pageData{
		Title:       "Public timeline",
		Description: "What every server in the fleet is saying, live.",
		Section:     "public",
		Feeds:       feedLinks("Public timeline", "/public"),
		Body:        timelinePage{Heading: "Public timeline", Intro: "What every server in the fleet says, newest first.", Timeline: v},
	})
}

// handleRoot serves the one-segment paths: "/@{node}" is a server's
// profile and "/@{node}.rss", ".atom" and ".json" its feeds (a wildcard
// must be a whole segment, so the '@' and the extension are split here).
func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("path")
	name, ok := strings.CutPrefix(seg, "@")
	if !ok || name == "" {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "there is no page at %s", r.URL.Path))
		return
	}
	if base, format, ok := timeline.SplitFeedPath(name); ok {
		s.handleNodeFeed(w, r, base, format)
		return
	}
	s.handleProfile(w, r, name)
}

// handleProfile is a server's profile and its posts.
func (s *Server) handleProfile(w http.ResponseWriter, r *http.Request, name string) {
	n, err := s.Nodes.Get(r.Context(), name)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if n.Name != name {
		// An alias, or another spelling: the profile has one address.
		redirectKeepingQuery(w, r, nodePath(n.Name), http.StatusFound)
		return
	}
	v, ok := s.readTimeline(w, r, nodePath(n.Name), "node:"+n.Name,
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) { return s.Timeline.Node(ctx, n.ID, p) })
	if !ok {
		return
	}
	v.Label = "Posts by @" + n.Name
	v.Empty = "This server has not posted yet."
	now := s.now()
	end := now.Truncate(time.Hour).Add(time.Hour)
	counts, err := s.Timeline.PostsPerHour(r.Context(), n.ID, end, 24)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	pv := newProfileView(n, v, counts, end, now)
	pv.Follow = s.followButton(w, r, "node", n.Name)
	if u := currentUser(r); u != nil && u.Role.AtLeast(people.RoleAdmin) {
		pv.Edit = newProfileForm(n, s.csrfToken(w, r))
	}
	pv.Actions = s.actionMenu(r, nodeActionSubject(n))
	s.render(w, r, http.StatusOK, "profile.html", pageData{
		Title:       displayName(n) + " (@" + n.Name + ")",
		Description: "The profile and posts of the server @" + n.Name + ".",
		Feeds:       feedLinks("@"+n.Name, nodePath(n.Name)),
		Body:        pv,
	})
}

// handleTag is a hashtag's timeline, or its feed for "/tags/{tag}.rss",
// ".atom" and ".json".
func (s *Server) handleTag(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("tag")
	base, format, isFeed := timeline.SplitFeedPath(raw)
	tag := translators.Tag(base)
	if tag == "" {
		s.Error(w, r, feed.Errorf(feed.EINVALID, "%q is not a hashtag", base))
		return
	}
	if tag != base {
		target := tagPath(tag)
		if isFeed {
			target += "." + string(format)
		}
		redirectKeepingQuery(w, r, target, http.StatusMovedPermanently)
		return
	}
	if isFeed {
		s.handleTagFeed(w, r, tag, format)
		return
	}
	v, ok := s.readTimeline(w, r, tagPath(tag), "tag:"+tag,
		func(ctx context.Context, p timeline.Page) ([]*feed.Post, error) { return s.Timeline.Tag(ctx, tag, p) })
	if !ok {
		return
	}
	v.Label = "Posts tagged #" + tag
	v.Empty = "No post carries #" + tag + " yet."
	s.render(w, r, http.StatusOK, "timeline.html", pageData{
		Title:       "#" + tag,
		Description: "Posts tagged #" + tag + ", live.",
		Feeds:       feedLinks("#"+tag, tagPath(tag)),
		Body: timelinePage{Heading: "#" + tag, Intro: "Every post tagged #" + tag + ", newest first.", Timeline: v,
			Follow: s.followButton(w, r, "tag", tag)},
	})
}

// handlePostPage is a post with its whole thread and its technical
// details.
func (s *Server) handlePostPage(w http.ResponseWriter, r *http.Request) {
	id, err := feed.ParseID(r.PathValue("id"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	since, err := s.Timeline.LatestID(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	thread, err := s.Pipeline.DB.Thread(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	v := newThreadView(thread, id, s.now())
	v.Since = feed.FormatID(since)
	if v.Caused, err = s.causedView(r.Context(), id); err != nil {
		s.Error(w, r, err)
		return
	}
	for _, p := range thread {
		if p.ID == id {
			v.Actions = s.postActionMenu(r, p)
		}
	}
	s.render(w, r, http.StatusOK, "post.html", pageData{
		Title:       v.Post.Node + ": " + v.Post.Text,
		Description: v.Post.Text,
		Feeds:       feedLinks("@"+v.Post.Node, nodePath(v.Post.Node)),
		Body:        v,
	})
}

// sentence capitalizes an error message for a page.
func sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	return string(unicode.ToUpper(r)) + msg[n:] + "."
}

func (s *Server) now() time.Time { return s.Pipeline.DB.Now() }

func nodePath(name string) string { return "/@" + url.PathEscape(name) }

func tagPath(tag string) string { return "/tags/" + url.PathEscape(tag) }

func postPath(id int64) string { return "/posts/" + feed.FormatID(id) }

func redirectKeepingQuery(w http.ResponseWriter, r *http.Request, target string, status int) {
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, status)
}

func displayName(n *nodes.Node) string {
	if n.DisplayName != "" {
		return n.DisplayName
	}
	return n.Name
}
