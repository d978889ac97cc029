package broker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/go-stomp/stomp/v3"
)

// stompLogger adapts go-stomp's Logger to slog. go-stomp logs every
// ordinary disconnect as an error ("connection closed: …"), so its levels
// are shifted down one step: its errors are our Info, its info our Debug.
type stompLogger struct {
	l *slog.Logger
}

var _ stomp.Logger = stompLogger{}

func newStompLogger(l *slog.Logger) stompLogger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return stompLogger{l: l.With("component", "go-stomp")}
}

func (s stompLogger) log(level slog.Level, msg string) {
	s.l.Log(context.Background(), level, msg)
}

func (s stompLogger) Debugf(format string, v ...any) {
	s.log(slog.LevelDebug, fmt.Sprintf(format, v...))
}
func (s stompLogger) Infof(format string, v ...any) {
	s.log(slog.LevelDebug, fmt.Sprintf(format, v...))
}
func (s stompLogger) Warningf(format string, v ...any) {
	s.log(slog.LevelInfo, fmt.Sprintf(format, v...))
}
func (s stompLogger) Errorf(format string, v ...any) {
	s.log(slog.LevelInfo, fmt.Sprintf(format, v...))
}
func (s stompLogger) Debug(msg string)   { s.log(slog.LevelDebug, msg) }
func (s stompLogger) Info(msg string)    { s.log(slog.LevelDebug, msg) }
func (s stompLogger) Warning(msg string) { s.log(slog.LevelInfo, msg) }
func (s stompLogger) Error(msg string)   { s.log(slog.LevelInfo, msg) }

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
