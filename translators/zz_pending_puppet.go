package translators

import "errors"

// TranslatePuppet is being written; this file goes when it lands.
func TranslatePuppet(contentType string, body []byte) ([]Event, error) {
	return nil, errors.New("puppet: not yet")
}
