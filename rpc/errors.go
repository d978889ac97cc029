package rpc

import (
	"errors"
	"fmt"
)

// Errors returned when a message is refused. Callers match them with
// errors.Is; the wrapping error says which member or check failed.
var (
	// ErrMalformed: the body is not a well-formed message.
	ErrMalformed = errors.New("malformed message")
	// ErrProtocol: the message names a protocol this side does not speak.
	ErrProtocol = errors.New("unknown protocol")
	// ErrUnknownKey: the message is signed by a key not in the key ring.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrPrincipal: the key is trusted, but not to speak for the caller or
	// sender the message names.
	ErrPrincipal = errors.New("key may not sign for this principal")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrExpired: msgtime + ttl has passed.
	ErrExpired = errors.New("request expired")
	// ErrFuture: msgtime is further ahead than the allowed clock skew.
	ErrFuture = errors.New("request from the future")
)

// StatusError is an error with the status code a reply should carry. An
// agent plugin returns one to choose the code; its Msg goes to the caller,
// so it must be safe to show.
type StatusError struct {
	Code StatusCode
	Msg  string
}

// Error returns the message with its status.
func (e *StatusError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Msg) }

// Errorf returns a *StatusError with a formatted message.
func Errorf(code StatusCode, format string, args ...any) error {
	return &StatusError{Code: code, Msg: fmt.Sprintf(format, args...)}
}
