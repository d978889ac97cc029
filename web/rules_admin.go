package web

import (
	"fmt"
	"net/http"
	"time"

	"fleetfeed/feed"
	"fleetfeed/rpc/rules"
	"fleetfeed/timeline/people"
	"fleetfeed/translators"
)

// RulesAdmin is the rules the server runs, as the administrators' rules
// page sees and reloads them; cmd/fleetfeed implements it around the
// rules engine.
type RulesAdmin interface {
	// Path is the rules file.
	Path() string
	// Source returns the file as it is on disk now, which may differ from
	// the rules in use when it no longer loads; it returns the read error.
	Source() ([]byte, error)
	// Rules returns the rules in use, in their file's order, and what
	// they have done since the server started.
	Rules() []rules.Status
	// Reload reads the file again, as SIGHUP does. When the file no
	// longer loads, the rules in use stay and it returns why: an error
	// wrapping rules.ErrInvalid, with the line, for a file that reads but
	// is not valid.
	Reload() error
	// LastReload says when the file was last read, at start, on SIGHUP
	// or from the page, and the error if that read did not load.
	LastReload() (time.Time, error)
}

// rulesRoutes registers the administrators' rules page.
func (s *Server) rulesRoutes() {
	admin := func(h http.HandlerFunc) http.HandlerFunc { return s.requireRole(people.RoleAdmin, h) }
	s.mux.HandleFunc("GET /admin/rules", htmlPage(admin(s.handleAdminRules)))
	s.postRoutes = append(s.postRoutes, "/admin/rules/reload")
	s.mux.HandleFunc("POST /admin/rules/reload", htmlPage(s.checkCSRF(admin(s.handleAdminRulesReload))))
}

// adminRulesView is the administrators' rules page.
type adminRulesView struct {
	CSRF string
	// Configured is false when the server runs without a rules file.
	Configured bool
	Path       string
	// Source is the file as it is now, or SourceError why it cannot be
	// read.
	Source, SourceError string
	// LoadedAt is when the file was last read; LoadError why it did not
	// load then, in which case the rules shown are the ones before.
	LoadedAt  *when
	LoadError string
	Notice    string
	Rules     []ruleView
}

// ruleView is one rule in plain words, with what it has done.
type ruleView struct {
	Name, Description string
	rules.Summary
	// LastRun is nil when the rule has not run since the start.
	LastRun *when
	// RunCount counts the runs in the rate limit's window.
	RunCount string
	// LastOutcome is its last reply's sentence; Warning marks a reply
	// that was not all good.
	LastOutcome string
	Warning     bool
}

func (s *Server) handleAdminRules(w http.ResponseWriter, r *http.Request) {
	v := adminRulesView{CSRF: s.csrfToken(w, r), Configured: s.Rules != nil}
	if s.Rules != nil {
		now := s.now()
		v.Path = s.Rules.Path()
		if src, err := s.Rules.Source(); err != nil {
			v.SourceError = err.Error()
		} else {
			v.Source = string(src)
		}
		if at, err := s.Rules.LastReload(); !at.IsZero() {
			w := newWhen(at, now)
			v.LoadedAt = &w
			if err != nil {
				v.LoadError = err.Error()
			}
		}
		for _, st := range s.Rules.Rules() {
			v.Rules = append(v.Rules, newRuleView(st, now))
		}
		switch r.URL.Query().Get("reloaded") {
		case "ok":
			v.Notice = fmt.Sprintf("The rules file is reloaded: %s in use.", countRules(len(v.Rules)))
		case "failed":
			v.Notice = "The rules file did not load, so the rules in use have not changed."
		}
	}
	s.render(w, r, http.StatusOK, "admin_rules.html", pageData{Title: "Rules", Section: "rules", Body: v})
}

// handleAdminRulesReload reloads the rules file and goes back to the page,
// which shows the outcome either way.
func (s *Server) handleAdminRulesReload(w http.ResponseWriter, r *http.Request) {
	if s.Rules == nil {
		s.Error(w, r, feed.Errorf(feed.EINVALID, "there is no rules file to reload: start the server with --rules"))
		return
	}
	outcome := "ok"
	if err := s.Rules.Reload(); err != nil {
		outcome = "failed" // the page shows the error LastReload keeps
	}
	http.Redirect(w, r, "/admin/rules?reloaded="+outcome, http.StatusSeeOther)
}

func newRuleView(st rules.Status, now time.Time) ruleView {
	v := ruleView{Name: st.Rule.Name, Description: st.Rule.Description, Summary: st.Rule.Summary(),
		LastOutcome: st.LastOutcome, Warning: st.LastSeverity.Rank() >= translators.SeverityWarning.Rank()}
	if !st.LastRun.IsZero() {
		w := newWhen(st.LastRun, now)
		v.LastRun = &w
	}
	v.RunCount = fmt.Sprintf("%s in the last %s", countRuns(st.RunsInWindow), rules.Words(st.Window))
	if st.Rule.MaxRuns > 0 {
		v.RunCount += fmt.Sprintf(", of at most %d", st.Rule.MaxRuns)
	}
	return v
}

func countRules(n int) string {
	if n == 1 {
		return "1 rule"
	}
	return fmt.Sprintf("%d rules", n)
}

func countRuns(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", n)
}
