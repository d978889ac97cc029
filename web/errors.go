package web

import (
	"encoding/json"
	"net/http"

	"fleetfeed/feed"
)

// statusOf maps an application error code to an HTTP status: the one place
// that does.
func statusOf(code string) int {
	switch code {
	case feed.ECONFLICT:
		return http.StatusConflict
	case feed.EINVALID:
		return http.StatusBadRequest
	case feed.ENOTFOUND:
		return http.StatusNotFound
	case feed.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case feed.EFORBIDDEN:
		return http.StatusForbidden
	case feed.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case feed.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error string `json:"error"`
	Line  int    `json:"line,omitempty"`
}

// Error answers with err as JSON, or as an HTML page for a web page: its
// client-safe message and the status its code maps to. Internal errors are
// logged and the client is told only that something went wrong.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := feed.ErrorCode(err)
	if code == feed.EINTERNAL {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if isPage(r) {
		s.errorPage(w, r, statusOf(code), feed.ErrorMessage(err))
		return
	}
	s.errorJSON(w, statusOf(code), errorBody{Error: feed.ErrorMessage(err)})
}

func (s *Server) errorJSON(w http.ResponseWriter, status int, body errorBody) {
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}
