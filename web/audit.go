package web

import (
	"net/http"
	"strconv"

	"fleetfeed/feed"
	"fleetfeed/rpc"
)

// auditLog is the RPC audit log in the server's database.
func (s *Server) auditLog() *rpc.SQLiteAuditLog {
	return &rpc.SQLiteAuditLog{DB: s.Pipeline.DB}
}

// handleAudit serves one page of the RPC audit log, newest first:
// ?before=<cursor>&limit=<n>; the answer's "next" is the cursor of the
// next page (0 on the last).
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	var page rpc.AuditPage
	q := r.URL.Query()
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.Error(w, r, feed.Errorf(feed.EINVALID, "before must be a cursor from a previous page"))
			return
		}
		page.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > rpc.MaxPageSize {
			s.Error(w, r, feed.Errorf(feed.EINVALID, "limit must be between 1 and %d", rpc.MaxPageSize))
			return
		}
		page.Limit = n
	}
	entries, err := s.auditLog().List(r.Context(), page)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, entries)
}
