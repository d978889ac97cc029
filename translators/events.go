package translators

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// TranslateEvents reads fleetfeed's own normalized events: a JSON array of
// Event objects, one object, or one object per line. Every event is
// validated: an ID, a known source name or another word, a node, and a post
// (if any) with a sentence short enough, tags and a valid severity.
func TranslateEvents(contentType string, body []byte) ([]Event, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &ParseError{Source: SourceEvents, Msg: "empty body"}
	}
	var evs []Event
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &evs); err != nil {
			return nil, &ParseError{Source: SourceEvents, Msg: "not a JSON array of events: " + jsonMsg(err)}
		}
		for i := range evs {
			if err := checkEvent(&evs[i]); err != nil {
				return nil, &ParseError{Source: SourceEvents, Msg: fmt.Sprintf("event %d: %s", i+1, err)}
			}
		}
		return evs, nil
	case '{':
	default:
		return nil, &ParseError{Source: SourceEvents, Line: 1, Msg: "not a JSON object"}
	}
	sc := bufio.NewScanner(bytes.NewReader(trimmed))
	sc.Buffer(make([]byte, 64*1024), len(trimmed)+1)
	line := 0
	for sc.Scan() {
		line++
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 {
			continue
		}
		var ev Event
		if err := json.Unmarshal(l, &ev); err != nil {
			if line == 1 {
				// Maybe one pretty-printed object.
				if err2 := json.Unmarshal(trimmed, &ev); err2 == nil {
					if err := checkEvent(&ev); err != nil {
						return nil, &ParseError{Source: SourceEvents, Msg: err.Error()}
					}
					return []Event{ev}, nil
				}
			}
			return nil, &ParseError{Source: SourceEvents, Line: line, Msg: "not a JSON event: " + jsonMsg(err)}
		}
		if err := checkEvent(&ev); err != nil {
			return nil, &ParseError{Source: SourceEvents, Line: line, Msg: err.Error()}
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{Source: SourceEvents, Line: line + 1, Msg: err.Error()}
	}
	return evs, nil
}

func checkEvent(ev *Event) error {
	ev.ID = strings.TrimSpace(ev.ID)
	ev.Node = strings.TrimSpace(ev.Node)
	if ev.ID == "" {
		return fmt.Errorf("no id")
	}
	if len(ev.ID) > 200 {
		return fmt.Errorf("id longer than 200 characters")
	}
	if ev.Node == "" {
		return fmt.Errorf("no node")
	}
	if len(ev.Node) > 255 {
		return fmt.Errorf("node name longer than 255 characters")
	}
	if ev.Source == "" {
		ev.Source = SourceEvents
	}
	if Tag(ev.Source) != ev.Source {
		return fmt.Errorf("source %q is not a plain word", ev.Source)
	}
	if ev.Health != "" && !ev.Health.Valid() {
		return fmt.Errorf("health %q is not one of ok, info, warning, critical", ev.Health)
	}
	if ev.Post == nil {
		return nil
	}
	p := ev.Post
	p.Text = strings.TrimSpace(p.Text)
	if p.Text == "" {
		return fmt.Errorf("post has no text")
	}
	if !p.Severity.Valid() {
		return fmt.Errorf("post severity %q is not one of ok, info, warning, critical", p.Severity)
	}
	for i, t := range p.Tags {
		n := Tag(t)
		if n == "" {
			return fmt.Errorf("post tag %q is empty once normalized", t)
		}
		p.Tags[i] = n
	}
	if n := utf8.RuneCountInString(Sentence(p.Text, p.Tags)); n > MaxSentence {
		return fmt.Errorf("post text with its hashtags is %d characters, more than %d", n, MaxSentence)
	}
	return nil
}

func jsonMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}
