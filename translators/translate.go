package translators

import (
	"fmt"
	"strings"
)

// Input is one payload to translate.
type Input struct {
	// Source is one of the Source* names.
	Source string
	// ContentType is the payload's media type as sent (parameters are
	// ignored); empty when unknown, in which case the translator sniffs.
	ContentType string
	// Body is the payload.
	Body []byte
	// Node is the node to credit when the payload itself names none (a
	// fail2ban log line, an IDS line without a sensor name); may be empty.
	Node string
}

// Sources lists the sources Translate accepts, in the order the
// documentation gives them.
var Sources = []string{
	SourcePuppet, SourceNagios, SourceIcinga2, SourceSuricata, SourceSnort,
	SourceWazuh, SourceOSSEC, SourceFail2ban, SourceEvents,
}

// Translate dispatches in to its source's translator. An error is a
// *ParseError (what was wrong, and where) or wraps ErrUnknownSource; on error
// no events are returned, so a caller stores all of a payload or none of it.
func Translate(in Input) ([]Event, error) {
	ct := mediaType(in.ContentType)
	var (
		evs []Event
		err error
	)
	switch in.Source {
	case SourcePuppet:
		evs, err = TranslatePuppet(ct, in.Body)
	case SourceNagios:
		evs, err = TranslateNagios(ct, in.Body)
	case SourceIcinga2:
		evs, err = TranslateIcinga2(ct, in.Body)
	case SourceSuricata:
		evs, err = TranslateSuricata(ct, in.Body, in.Node)
	case SourceSnort:
		evs, err = TranslateSnort(ct, in.Body, in.Node)
	case SourceWazuh:
		evs, err = TranslateWazuh(ct, in.Body)
	case SourceOSSEC:
		evs, err = TranslateOSSEC(ct, in.Body)
	case SourceFail2ban:
		evs, err = TranslateFail2ban(ct, in.Body, in.Node)
	case SourceEvents:
		evs, err = TranslateEvents(ct, in.Body)
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownSource, in.Source)
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// mediaType strips parameters and case from a Content-Type value.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}
