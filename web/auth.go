package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"

	"fleetfeed/feed"
	"fleetfeed/timeline"
	"fleetfeed/timeline/people"
)

// Accounts on the web: a signed-in browser carries a session cookie; its
// session holds the user and the secret its CSRF tokens are made with.
// An anonymous visitor who is shown a form gets a CSRF cookie instead, so
// that the login form is protected too. A feed reader carries no cookie:
// the private feeds (/home.rss?token=…) take the user's feed token.

// Cookie names.
const (
	sessionCookie = "fleetfeed_session"
	csrfCookie    = "fleetfeed_csrf"
	// csrfField is the form field, and csrfHeader the request header,
	// a state-changing request carries its CSRF token in.
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// visitor is who is asking: a signed-in user (Session), a feed reader
// with a feed token (FeedUser), or nobody.
type visitor struct {
	Session  *people.Session
	FeedUser *people.User
	// anonCSRF is an anonymous visitor's CSRF secret, from their cookie
	// or made for the page being rendered.
	anonCSRF people.CSRFSecret
}

// user is the signed-in user, or nil.
func (v *visitor) user() *people.User {
	if v == nil || v.Session == nil {
		return nil
	}
	return v.Session.User
}

type visitorKey struct{}

func contextWithVisitor(ctx context.Context, v *visitor) context.Context {
	return context.WithValue(ctx, visitorKey{}, v)
}

// visitorOf returns the request's visitor; never nil.
func visitorOf(r *http.Request) *visitor {
	if v, ok := r.Context().Value(visitorKey{}).(*visitor); ok {
		return v
	}
	return &visitor{}
}

// currentUser is the signed-in user of the request, or nil.
func currentUser(r *http.Request) *people.User { return visitorOf(r).user() }

// userID is the signed-in user's id, or 0 for an anonymous visitor.
func userID(r *http.Request) int64 {
	if u := currentUser(r); u != nil {
		return u.ID
	}
	return 0
}

// withVisitor loads the session named by the request's cookie (and, for
// a feed, the user of its ?token=) into the request's context, and, with
// Private set, keeps anonymous visitors out of everything but the login
// page, the health check, ingest, unsubscribe links and the static files.
func (s *Server) withVisitor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &visitor{}
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			sess, err := s.People.LookupSession(r.Context(), c.Value)
			switch {
			case err == nil:
				v.Session = sess
			case feed.ErrorCode(err) == feed.EUNAUTHORIZED:
				// Ended or unknown: forget the cookie, carry on anonymous.
				http.SetCookie(w, s.cookie(r, sessionCookie, "", -1))
			default:
				s.Error(w, r, err)
				return
			}
		}
		if c, err := r.Cookie(csrfCookie); err == nil {
			if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(b) == 32 {
				v.anonCSRF = b
			}
		}
		if tok := r.URL.Query().Get("token"); tok != "" && r.Method == http.MethodGet && isFeedPath(r.URL.Path) {
			u, err := s.People.LookupFeedToken(r.Context(), tok)
			if err != nil {
				s.Error(w, r, err)
				return
			}
			v.FeedUser = u
		}
		r = r.WithContext(contextWithVisitor(r.Context(), v))
		if s.Private && v.Session == nil && v.FeedUser == nil && !openInPrivate(r.URL.Path) {
			s.needLogin(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isFeedPath reports whether a path names a feed (ends in .rss, .atom or
// .json).
func isFeedPath(p string) bool {
	_, _, ok := timeline.SplitFeedPath(p)
	return ok
}

// openInPrivate lists what a private server shows to anonymous visitors.
func openInPrivate(p string) bool {
	switch p {
	case "/login", "/healthz", "/unsubscribe":
		return true
	}
	return strings.HasPrefix(p, "/static/") || strings.HasPrefix(p, "/api/v1/ingest/")
}

// needLogin answers a request that needs a signed-in user: a page
// request (not under /api/) is sent to the login page, and comes back
// after it; an API request gets 401.
func (s *Server) needLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") && !isFeedPath(r.URL.Path) {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	s.Error(w, r, feed.Errorf(feed.EUNAUTHORIZED, "sign in first"))
}

// requireRole lets only signed-in users with at least the role through:
// others are sent to sign in (or get 401), and users with too little
// power get 403. Every route that needs an account is wrapped in it.
func (s *Server) requireRole(role people.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := currentUser(r)
		if u == nil {
			s.needLogin(w, r)
			return
		}
		if !u.Role.AtLeast(role) {
			s.Error(w, r, feed.Errorf(feed.EFORBIDDEN, "this needs the %s role; you are %s", role, u.Role))
			return
		}
		h(w, r)
	}
}

// csrfSecret is the secret the request's CSRF tokens are checked with:
// the session's, or an anonymous visitor's cookie's.
func csrfSecret(r *http.Request) people.CSRFSecret {
	v := visitorOf(r)
	if v.Session != nil {
		return v.Session.CSRF
	}
	return v.anonCSRF
}

// csrfToken returns a token for a form on the page being rendered. An
// anonymous visitor without a CSRF cookie is given one.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	v := visitorOf(r)
	if v.Session != nil {
		return v.Session.CSRF.Token()
	}
	if v.anonCSRF == nil {
		b := make([]byte, 32)
		rand.Read(b)
		v.anonCSRF = b
		// A cookie for the browser session (no Max-Age).
		http.SetCookie(w, s.cookie(r, csrfCookie, base64.RawURLEncoding.EncodeToString(b), 0))
	}
	return v.anonCSRF.Token()
}

// checkCSRF refuses, with 403, a request whose CSRF token (form field
// "csrf" or header X-CSRF-Token) is missing or was not made for this
// visitor. Every POST route but ingest is wrapped in it.
func (s *Server) checkCSRF(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get(csrfHeader)
		if tok == "" {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			tok = r.PostFormValue(csrfField)
		}
		if !csrfSecret(r).Verify(tok) {
			s.Error(w, r, feed.Errorf(feed.EFORBIDDEN, "the form has expired or did not come from this site; reload the page and try again"))
			return
		}
		h(w, r)
	}
}

// cookie makes one of the server's cookies: HttpOnly, SameSite=Lax, and
// Secure when the request came over TLS (or BaseURL is https). maxAge < 0
// deletes it.
func (s *Server) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   r.TLS != nil || strings.HasPrefix(s.BaseURL, "https://"),
	}
}

// clientIP is the address a request came from, for the login limiter.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPath returns next when it is a path on this site, else "/": the
// login form's return address must not send anyone elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// loginView is the login page.
type loginView struct {
	CSRF    string
	Next    string
	Name    string
	Problem string
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, loginView{Next: localPath(r.URL.Query().Get("next"))})
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	v.CSRF = s.csrfToken(w, r)
	s.render(w, r, status, "login.html", pageData{Title: "Sign in", Section: "login", Body: v})
}

// handleLogin checks a name and password, rate limited per name and per
// address, and starts a session. The password is never logged.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	password := r.PostFormValue("password")
	v := loginView{Next: localPath(r.PostFormValue("next")), Name: name}
	ip := clientIP(r)
	if err := s.Limiter.Allow(name, ip); err != nil {
		v.Problem = sentence(feed.ErrorMessage(err))
		s.Logger.Warn("sign-in refused: too many failures", "user", name, "ip", ip)
		s.renderLogin(w, r, http.StatusTooManyRequests, v)
		return
	}
	u, err := s.People.Authenticate(r.Context(), name, password)
	if err != nil {
		if feed.ErrorCode(err) != feed.EUNAUTHORIZED {
			s.Error(w, r, err)
			return
		}
		s.Limiter.Fail(name, ip)
		s.Logger.Info("sign-in failed", "user", name, "ip", ip)
		v.Problem = sentence(feed.ErrorMessage(err))
		s.renderLogin(w, r, http.StatusUnauthorized, v)
		return
	}
	s.Limiter.Succeed(name)
	sess, err := s.People.CreateSession(r.Context(), u.ID)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, sess.Token, int(sess.ExpiresAt.Sub(s.now()).Seconds())))
	http.SetCookie(w, s.cookie(r, csrfCookie, "", -1))
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// handleLogout ends the session.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.People.DeleteSession(r.Context(), c.Value); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
