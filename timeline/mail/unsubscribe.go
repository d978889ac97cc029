package mail

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"fleetfeed/feed"
)

// unsubscribeKey names the server key unsubscribe links are signed with.
const unsubscribeKey = "mail-unsubscribe"

// UnsubscribeToken returns the token of a user's unsubscribe link for one
// kind of mail: the user id and kind, signed with a server key, so that
// the link works without signing in and cannot be made for someone else.
func (s *Service) UnsubscribeToken(ctx context.Context, userID int64, kind string) (string, error) {
	key, err := s.People.Secret(ctx, unsubscribeKey)
	if err != nil {
		return "", err
	}
	payload := strconv.FormatInt(userID, 10) + "." + kind
	return payload + "." + sign(key, payload), nil
}

func sign(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("fleetfeed unsubscribe\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// UnsubscribeURL is the link in a mail of that kind to the user.
func (s *Service) UnsubscribeURL(ctx context.Context, userID int64, kind string) (string, error) {
	t, err := s.UnsubscribeToken(ctx, userID, kind)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(s.BaseURL, "/") + "/unsubscribe?token=" + url.QueryEscape(t), nil
}

// VerifyUnsubscribe checks a token and returns whose and which kind of
// mail it stops; EINVALID for a token the server did not sign.
func (s *Service) VerifyUnsubscribe(ctx context.Context, token string) (int64, string, error) {
	bad := feed.Errorf(feed.EINVALID, "this unsubscribe link is not valid")
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return 0, "", bad
	}
	key, err := s.People.Secret(ctx, unsubscribeKey)
	if err != nil {
		return 0, "", err
	}
	payload := parts[0] + "." + parts[1]
	if !hmac.Equal([]byte(parts[2]), []byte(sign(key, payload))) {
		return 0, "", bad
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || (parts[1] != KindCritical && parts[1] != KindDigest) {
		return 0, "", bad
	}
	return id, parts[1], nil
}

// Unsubscribe turns off the kind of mail the token names and returns the
// user and kind, for the page that says so.
func (s *Service) Unsubscribe(ctx context.Context, token string) (int64, string, error) {
	id, kind, err := s.VerifyUnsubscribe(ctx, token)
	if err != nil {
		return 0, "", err
	}
	col := "critical"
	if kind == KindDigest {
		col = "digest"
	}
	if _, err := s.DB.SQL().ExecContext(ctx, `UPDATE mail_prefs SET `+col+` = 0 WHERE user_id = ?`, id); err != nil {
		return 0, "", fmt.Errorf("unsubscribe: %w", err)
	}
	return id, kind, nil
}
