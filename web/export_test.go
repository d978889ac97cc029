package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"fleetfeed/timeline/people"
)

// CSRFRoutes are the patterns of the POST routes that check a CSRF token,
// for the table test that tries each of them.
func (s *Server) CSRFRoutes() []string { return append([]string(nil), s.postRoutes...) }

func TestRequireRoleRanksRoles(t *testing.T) {
	s := &Server{}
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	for _, tt := range []struct {
		need, have people.Role
		want       int
	}{
		{people.RoleOperator, people.RoleViewer, http.StatusForbidden},
		{people.RoleOperator, people.RoleOperator, http.StatusNoContent},
		{people.RoleOperator, people.RoleAdmin, http.StatusNoContent},
		{people.RoleAdmin, people.RoleOperator, http.StatusForbidden},
		{people.RoleViewer, people.RoleViewer, http.StatusNoContent},
	} {
		t.Run(string(tt.need)+"/"+string(tt.have), func(t *testing.T) {
			s.Logger = discardLogger()
			r := httptest.NewRequest("GET", "/api/v1/x", nil)
			v := &visitor{Session: &people.Session{User: &people.User{ID: 1, Name: "u", Role: tt.have}}}
			r = r.WithContext(contextWithVisitor(r.Context(), v))
			w := httptest.NewRecorder()
			s.requireRole(tt.need, ok)(w, r)
			if got := w.Code; got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
