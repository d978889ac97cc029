package translators

import "errors"

// Being written; this file goes when they land.
func TranslateSuricata(contentType string, body []byte, node string) ([]Event, error) {
	return nil, errors.New("not yet")
}
func TranslateSnort(contentType string, body []byte, node string) ([]Event, error) {
	return nil, errors.New("not yet")
}
func TranslateWazuh(contentType string, body []byte) ([]Event, error) {
	return nil, errors.New("not yet")
}
func TranslateOSSEC(contentType string, body []byte) ([]Event, error) {
	return nil, errors.New("not yet")
}
func TranslateFail2ban(contentType string, body []byte, node string) ([]Event, error) {
	return nil, errors.New("not yet")
}
