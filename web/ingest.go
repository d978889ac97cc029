package web

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

// acceptedTypes lists, per source, the media types its ingest endpoint
// takes. A request without a Content-Type is sniffed by the translator.
var acceptedTypes = map[string][]string{
	translators.SourcePuppet:   {"application/x-yaml", "application/yaml", "text/yaml", "application/json"},
	translators.SourceNagios:   {"application/x-www-form-urlencoded", "application/json"},
	translators.SourceIcinga2:  {"application/x-www-form-urlencoded", "application/json", "application/x-ndjson", "application/jsonl"},
	translators.SourceSuricata: {"application/json", "application/x-ndjson", "application/jsonl", "text/plain"},
	translators.SourceSnort:    {"application/json", "application/x-ndjson", "application/jsonl", "text/plain"},
	translators.SourceWazuh:    {"application/json", "application/x-ndjson", "application/jsonl"},
	translators.SourceOSSEC:    {"application/json", "application/x-ndjson", "application/jsonl", "text/plain"},
	translators.SourceFail2ban: {"application/x-www-form-urlencoded", "text/plain"},
	translators.SourceEvents:   {"application/json", "application/x-ndjson", "application/jsonl"},
}

// ingestAnswer is the body of a 202.
type ingestAnswer struct {
	Source string `json:"source"`
	*feed.IngestResult
}

// handleIngest takes one payload from a source, translates it and stores
// every event in it, or none of them.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	types, ok := acceptedTypes[source]
	if !ok {
		s.Error(w, r, feed.Errorf(feed.ENOTFOUND, "unknown source %q; fleetfeed reads %s", source, strings.Join(translators.Sources, ", ")))
		return
	}
	if !s.authorizedIngest(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fleetfeed ingest", Basic realm="fleetfeed ingest"`)
		s.Error(w, r, feed.Errorf(feed.EUNAUTHORIZED, "ingest needs the ingest token, as a Bearer token or as the password of basic auth"))
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(types, mt) {
			s.Error(w, r, feed.Errorf(feed.EUNSUPPORTED, "%s takes %s, not %q", source, strings.Join(types, ", "), ct))
			return
		}
		ct = mt
	}
	limit := s.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r.ContentLength > limit {
		s.Error(w, r, feed.Errorf(feed.ETOOLARGE, "the body is %d bytes; the limit is %d", r.ContentLength, limit))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.Error(w, r, feed.Errorf(feed.ETOOLARGE, "the body is larger than the limit of %d bytes", limit))
			return
		}
		s.Error(w, r, feed.Errorf(feed.EINVALID, "reading the body: %v", err))
		return
	}
	if len(body) == 0 {
		s.Error(w, r, feed.Errorf(feed.EINVALID, "the body is empty"))
		return
	}
	evs, err := translators.Translate(translators.Input{
		Source: source, ContentType: ct, Body: body, Node: r.URL.Query().Get("node"),
	})
	if err != nil {
		var pe *translators.ParseError
		if errors.As(err, &pe) {
			s.errorJSON(w, http.StatusBadRequest, errorBody{Error: pe.Error(), Line: pe.Line})
			return
		}
		s.Error(w, r, feed.Errorf(feed.EINVALID, "%v", err))
		return
	}
	res, err := s.Pipeline.Ingest(r.Context(), evs)
	if err != nil {
		s.Error(w, r, fmt.Errorf("ingest %s: %w", source, err))
		return
	}
	writeJSON(w, http.StatusAccepted, ingestAnswer{Source: source, IngestResult: res})
}

// authorizedIngest accepts the ingest token as a Bearer token or as the
// password of HTTP basic auth (Puppet's reporturl carries it that way).
func (s *Server) authorizedIngest(r *http.Request) bool {
	if s.IngestToken == "" {
		return false
	}
	var given string
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		given = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	} else if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	}
	return subtle.ConstantTimeCompare([]byte(given), []byte(s.IngestToken)) == 1
}
