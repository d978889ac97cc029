package broker

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"fleetfeed/rpc"
)

func msgFrame(id string, expires string) *frame.Frame {
	f := frame.New(frame.MESSAGE, frame.Destination, "/queue/q", frame.MessageId, id)
	if expires != "" {
		f.Header.Set(HeaderExpires, expires)
	}
	return f
}

func TestExpiringStorage(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	clock := func() time.Time { return now }
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }

	s := newExpiringStorage(clock, 0)
	for _, f := range []*frame.Frame{
		msgFrame("stale", ms(-time.Second)), // expired on arrival: never stored
		msgFrame("soon", ms(time.Second)),
		msgFrame("never", ""),
		msgFrame("zero", "0"),       // ActiveMQ: 0 means no expiry
		msgFrame("junk", "tuesday"), // unparsable: kept, not guessed at
		msgFrame("later", ms(time.Hour)),
	} {
		if err := s.Enqueue("/queue/q", f); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.expired.Load(), uint64(1); got != want {
		t.Fatalf("expired after enqueue = %d, want %d", got, want)
	}

	now = now.Add(2 * time.Second) // "soon" has expired in the queue
	var got []string
	for {
		f, err := s.Dequeue("/queue/q")
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			break
		}
		got = append(got, f.Header.Get(frame.MessageId))
	}
	if want := "never zero junk later"; strings.Join(got, " ") != want {
		t.Fatalf("dequeued %q, want %q", strings.Join(got, " "), want)
	}
	if queued, expired := s.stats(); queued != 0 || expired != 2 {
		t.Fatalf("stats = %d queued, %d expired; want 0, 2", queued, expired)
	}
}

func TestExpiringStorageRequeueAndSweep(t *testing.T) {
	now := time.UnixMilli(5_000_000)
	s := newExpiringStorage(func() time.Time { return now }, 0)
	exp := strconv.FormatInt(now.Add(time.Second).UnixMilli(), 10)

	_ = s.Enqueue("/queue/a", msgFrame("a1", exp))
	_ = s.Enqueue("/queue/a", msgFrame("a2", ""))
	_ = s.Requeue("/queue/a", msgFrame("a0", ""))
	_ = s.Enqueue("/queue/b", msgFrame("b1", exp))

	if f, _ := s.Dequeue("/queue/a"); f.Header.Get(frame.MessageId) != "a0" {
		t.Fatalf("requeued frame not at head: %v", f)
	}
	now = now.Add(time.Minute)
	_ = s.Requeue("/queue/a", msgFrame("dead", exp)) // expired while out: dropped
	s.removeExpired()
	if queued, expired := s.stats(); queued != 1 || expired != 3 {
		t.Fatalf("after sweep: %d queued, %d expired; want 1, 3", queued, expired)
	}
	if _, ok := s.queues["/queue/b"]; ok {
		t.Fatal("sweep kept an empty queue")
	}
	if f, _ := s.Dequeue("/queue/a"); f == nil || f.Header.Get(frame.MessageId) != "a2" {
		t.Fatalf("dequeue after sweep = %v, want a2", f)
	}

	s.Stop()
	_ = s.Enqueue("/queue/a", msgFrame("late", ""))
	if f, _ := s.Dequeue("/queue/a"); f != nil {
		t.Fatalf("stopped storage kept %v", f)
	}
}

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     endpoint
		wantErr  bool
	}{
		{name: "full", in: "stomp://ff:s3cret@broker.example:61614/fleet",
			want: endpoint{addr: "broker.example:61614", login: "ff", passcode: "s3cret", vhost: "fleet"}},
		{name: "defaults", in: "stomp://127.0.0.1",
			want: endpoint{addr: "127.0.0.1:61613", vhost: "/"}},
		{name: "slash vhost", in: "stomp://u:p@[::1]:1234/",
			want: endpoint{addr: "[::1]:1234", login: "u", passcode: "p", vhost: "/"}},
		{name: "escaped vhost", in: "stomp://u:p@h/%2F",
			want: endpoint{addr: "h:61613", login: "u", passcode: "p", vhost: "/"}},
		{name: "wrong scheme", in: "amqp://h", wantErr: true},
		{name: "no host", in: "stomp:///x", wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseURL(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseURL(%q) = %+v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.redacted = ""
			if got != tt.want {
				t.Fatalf("parseURL(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSendHeaders(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	f := frame.New(frame.SEND, frame.Destination, "/queue/x")
	opt := sendHeaders("/queue/x", rpc.SendOptions{
		TTL:    90 * time.Second,
		Header: map[string]string{"reply-to": "/topic/r", "destination": "/queue/evil"},
	}, now)
	if err := opt(f); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"expires":     "1700000090000",
		"expiration":  "90000",
		"persistent":  "true",
		"reply-to":    "/topic/r",
		"destination": "/queue/x",
	} {
		if got := f.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}

	f = frame.New(frame.SEND, frame.Destination, "/topic/x")
	_ = sendHeaders("/topic/x", rpc.SendOptions{}, now)(f)
	for _, k := range []string{"expires", "expiration", "persistent"} {
		if _, ok := f.Header.Contains(k); ok {
			t.Errorf("topic message without TTL has header %s", k)
		}
	}
}
