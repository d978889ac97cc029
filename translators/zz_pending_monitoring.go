package translators

import "errors"

// Being written; this file goes when they land.
func TranslateNagios(contentType string, body []byte) ([]Event, error) {
	return nil, errors.New("nagios: not yet")
}

func TranslateIcinga2(contentType string, body []byte) ([]Event, error) {
	return nil, errors.New("icinga2: not yet")
}
