package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"fleetfeed/feed"
	"fleetfeed/timeline"
	mailer "fleetfeed/timeline/mail"
	"fleetfeed/timeline/people"
	"fleetfeed/translators"
)

// smtpServer is a real SMTP server on loopback (emersion/go-smtp) that
// offers STARTTLS, requires AUTH PLAIN, and keeps what it receives — or
// refuses recipients with a given SMTP error.
type smtpServer struct {
	addr    *net.TCPAddr
	tlsConf *tls.Config // for the client: trusts the server's certificate

	mu       sync.Mutex
	received []received
	refuse   *smtp.SMTPError
}

type received struct {
	from, to string
	data     []byte
}

type session struct {
	srv      *smtpServer
	authed   bool
	from, to string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "fleetfeed" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if s.srv.refuse != nil {
		return s.srv.refuse
	}
	s.to = to
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.received = append(s.srv.received, received{s.from, s.to, b})
	s.srv.mu.Unlock()
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	srv := &smtpServer{tlsConf: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{srv: srv}, nil }))
	s.Domain = "127.0.0.1"
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.addr = l.Addr().(*net.TCPAddr)
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return srv
}

func (s *smtpServer) setRefuse(e *smtp.SMTPError) {
	s.mu.Lock()
	s.refuse = e
	s.mu.Unlock()
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type fixture struct {
	svc   *mailer.Service
	pipe  *feed.Pipeline
	clock *clock
	alice *people.User
	smtp  *smtpServer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db := feed.NewDB(filepath.Join(t.TempDir(), "fleetfeed.db"))
	db.Now = c.now
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ppl := &people.Store{DB: db, Params: people.Params{Memory: 64, Time: 1, Threads: 1}}
	srv := startSMTP(t)
	f := &fixture{
		svc: &mailer.Service{DB: db, People: ppl, Follows: &timeline.Follows{DB: db}, BaseURL: "https://fleet.example.com/",
			TLSConfig: srv.tlsConf, Backoff: time.Minute, MaxAttempts: 3, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		pipe:  &feed.Pipeline{DB: db, Hub: feed.NewHub()},
		clock: c,
		smtp:  srv,
	}
	var err error
	if f.alice, err = ppl.Create(ctx, people.NewUser{Name: "alice", Password: "correct horse", Role: people.RoleViewer, Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	f.post(t, "web01", "The shop is up", translators.SeverityOK)
	f.post(t, "db01", "The database is up", translators.SeverityOK)
	if err := f.svc.Follows.FollowNode(ctx, f.alice.ID, "web01"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPrefs(ctx, f.alice.ID, mailer.Prefs{Critical: true, Digest: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetSettings(ctx, mailer.Settings{Host: "127.0.0.1", Port: srv.addr.Port, Username: "fleetfeed", Password: "s3cret",
		From: "fleetfeed <fleetfeed@example.com>", Security: mailer.StartTLS}, false); err != nil {
		t.Fatal(err)
	}
	return f
}

var seq int

func (f *fixture) post(t *testing.T, node, text string, sev translators.Severity) *feed.Post {
	t.Helper()
	seq++
	res, err := f.pipe.Ingest(context.Background(), []translators.Event{{ID: "test:" + string(rune('a'+seq)) + text, Node: node,
		Post: &translators.Draft{Text: text, Tags: []string{"nagios", string(sev)}, Severity: sev}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.pipe.DB.PostByID(context.Background(), res.Posts[0])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// parts reads a multipart/alternative message into its headers and its
// decoded parts by media type.
func parts(t *testing.T, data []byte) (*mail.Message, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		typ, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[typ] = string(b)
	}
	return m, out
}

func TestCriticalMail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	hostile := `Disk <script>alert("x")</script> & full`
	p := f.post(t, "web01", hostile, translators.SeverityCritical)

	if n, err := f.svc.NotifyPost(ctx, p); err != nil || n != 1 {
		t.Fatalf("NotifyPost = %d, %v; want 1", n, err)
	}
	if n, _ := f.svc.NotifyPost(ctx, p); n != 0 {
		t.Fatalf("the same post queued %d more mails", n)
	}
	other := f.post(t, "db01", "The database is down", translators.SeverityCritical)
	if n, _ := f.svc.NotifyPost(ctx, other); n != 0 {
		t.Fatal("a post of a server alice does not follow was mailed")
	}
	warn := f.post(t, "web01", "Load is high", translators.SeverityWarning)
	if n, _ := f.svc.NotifyPost(ctx, warn); n != 0 {
		t.Fatal("a warning was mailed")
	}

	sent, failed, err := f.svc.SendDue(ctx)
	if err != nil || sent != 1 || failed != 0 {
		t.Fatalf("SendDue = %d sent, %d failed, %v", sent, failed, err)
	}
	got := f.smtp.messages()
	if len(got) != 1 {
		t.Fatalf("the server received %d messages", len(got))
	}
	if got[0].from != "fleetfeed@example.com" || got[0].to != "alice@example.com" {
		t.Fatalf("envelope %s -> %s", got[0].from, got[0].to)
	}
	m, body := parts(t, got[0].data)
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[fleetfeed] web01: " + hostile; subject != want {
		t.Fatalf("Subject = %q, want %q", subject, want)
	}
	for k, want := range map[string]string{"From": "fleetfeed <fleetfeed@example.com>", "To": "alice@example.com",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "Auto-Submitted": "auto-generated"} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	text, html := body["text/plain"], body["text/html"]
	if !strings.Contains(text, hostile+" #nagios #critical") {
		t.Errorf("the text part lacks the sentence:\n%s", text)
	}
	if !strings.Contains(text, "https://fleet.example.com/posts/"+feed.FormatID(p.ID)) {
		t.Errorf("the text part lacks the post's link:\n%s", text)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "Disk &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; full") {
		t.Errorf("the HTML part does not escape the sentence:\n%s", html)
	}

	// The unsubscribe link works without signing in, and only as signed.
	link := regexp.MustCompile(`https://fleet\.example\.com/unsubscribe\?token=\S+`).FindString(text)
	if link == "" || m.Header.Get("List-Unsubscribe") != "<"+link+">" {
		t.Fatalf("unsubscribe link %q, header %q", link, m.Header.Get("List-Unsubscribe"))
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("token")
	if _, _, err := f.svc.Unsubscribe(ctx, strings.Replace(token, "critical", "digest", 1)); feed.ErrorCode(err) != feed.EINVALID {
		t.Fatalf("a forged token: %v", err)
	}
	uid, kind, err := f.svc.Unsubscribe(ctx, token)
	if err != nil || uid != f.alice.ID || kind != mailer.KindCritical {
		t.Fatalf("Unsubscribe = %d, %q, %v", uid, kind, err)
	}
	if prefs, _ := f.svc.Prefs(ctx, f.alice.ID); prefs.Critical || !prefs.Digest {
		t.Fatalf("prefs after unsubscribing = %+v", prefs)
	}
	if n, _ := f.svc.NotifyPost(ctx, f.post(t, "web01", "The shop is down", translators.SeverityCritical)); n != 0 {
		t.Fatal("mail after unsubscribing")
	}
}

func TestNotifyFromHub(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := newFixture(t)
	done := make(chan struct{})
	go func() { f.svc.Notify(ctx, f.pipe.Hub); close(done) }()
	for f.pipe.Hub.Len() == 0 {
		time.Sleep(time.Millisecond)
	}
	f.post(t, "web01", "The shop is down", translators.SeverityCritical)
	for {
		items, err := f.svc.Outbox(ctx, mailer.OutboxFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 1 {
			if got, want := items[0].Subject, "[fleetfeed] web01: The shop is down"; got != want {
				t.Fatalf("queued %q, want %q", got, want)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

func TestDigest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.post(t, "web01", "Puppet changed 3 settings", translators.SeverityInfo)
	f.post(t, "db01", "Puppet changed the database", translators.SeverityInfo)
	f.post(t, "web01", "Load is <high>", translators.SeverityWarning)
	if n, err := f.svc.QueueDigests(ctx); err != nil || n != 0 {
		t.Fatalf("a digest before the day ended: %d, %v", n, err)
	}
	f.clock.set(time.Date(2026, 3, 2, 0, 5, 0, 0, time.UTC))
	if n, err := f.svc.QueueDigests(ctx); err != nil || n != 1 {
		t.Fatalf("QueueDigests = %d, %v; want 1", n, err)
	}
	if n, _ := f.svc.QueueDigests(ctx); n != 0 {
		t.Fatalf("a second digest the same day: %d", n)
	}
	if sent, _, err := f.svc.SendDue(ctx); err != nil || sent != 1 {
		t.Fatalf("SendDue = %d, %v", sent, err)
	}
	m, body := parts(t, f.smtp.messages()[0].data)
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if want := "[fleetfeed] Daily digest: 2 posts from 1 server on Sunday 1 March 2026"; subject != want {
		t.Fatalf("Subject = %q, want %q", subject, want)
	}
	text := body["text/plain"]
	for _, want := range []string{"web01 (https://fleet.example.com/@web01)", "Load is <high> #nagios #warning", "Puppet changed 3 settings"} {
		if !strings.Contains(text, want) {
			t.Errorf("the digest lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "database") {
		t.Errorf("the digest holds a server alice does not follow:\n%s", text)
	}
	if html := body["text/html"]; !strings.Contains(html, "Load is &lt;high&gt;") || !strings.Contains(html, `<a href="https://fleet.example.com/@web01">web01</a>`) {
		t.Errorf("the HTML digest:\n%s", html)
	}
	// A quiet day sends nothing.
	f.clock.set(time.Date(2026, 3, 3, 0, 5, 0, 0, time.UTC))
	if n, err := f.svc.QueueDigests(ctx); err != nil || n != 0 {
		t.Fatalf("a quiet day's digest: %d, %v", n, err)
	}
}

func TestRetryAndBackoff(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.smtp.setRefuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Mailbox busy, try later"})
	if n, _ := f.svc.NotifyPost(ctx, f.post(t, "web01", "The shop is down", translators.SeverityCritical)); n != 1 {
		t.Fatal("nothing queued")
	}
	t0 := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	f.clock.set(t0)
	for i, tc := range []struct {
		at       time.Duration
		failed   int
		status   string
		attempts int
		next     time.Duration
	}{
		{0, 1, mailer.StatusPending, 1, time.Minute},
		{30 * time.Second, 0, mailer.StatusPending, 1, time.Minute},                 // not due yet
		{61 * time.Second, 1, mailer.StatusPending, 2, 3*time.Minute + time.Second}, // waited 1 min, now 2
		{182 * time.Second, 1, mailer.StatusFailed, 3, 7*time.Minute + 2*time.Second},
		{time.Hour, 0, mailer.StatusFailed, 3, 7*time.Minute + 2*time.Second}, // given up
	} {
		f.clock.set(t0.Add(tc.at))
		_, failed, err := f.svc.SendDue(ctx)
		if err != nil || failed != tc.failed {
			t.Fatalf("step %d: SendDue failed %d, %v; want %d", i, failed, err, tc.failed)
		}
		items, err := f.svc.Outbox(ctx, mailer.OutboxFilter{Failing: true})
		if err != nil || len(items) != 1 {
			t.Fatalf("step %d: %d failing items, %v", i, len(items), err)
		}
		it := items[0]
		if it.Status != tc.status || it.Attempts != tc.attempts || !it.NextAt.Round(time.Second).Equal(t0.Add(tc.next)) {
			t.Fatalf("step %d: %s after %d attempts, next at %s; want %s after %d, next at %s", i,
				it.Status, it.Attempts, it.NextAt, tc.status, tc.attempts, t0.Add(tc.next))
		}
		if !strings.Contains(it.LastError, "451") || !strings.Contains(it.LastError, "Mailbox busy") {
			t.Fatalf("step %d: last error %q", i, it.LastError)
		}
	}
	// An administrator retries it once the server is fixed.
	f.smtp.setRefuse(nil)
	items, _ := f.svc.Outbox(ctx, mailer.OutboxFilter{Failing: true})
	if err := f.svc.Retry(ctx, items[0].ID); err != nil {
		t.Fatal(err)
	}
	if sent, _, _ := f.svc.SendDue(ctx); sent != 1 {
		t.Fatal("the retried mail was not sent")
	}
	if items, _ := f.svc.Outbox(ctx, mailer.OutboxFilter{Failing: true}); len(items) != 0 {
		t.Fatalf("%d failing after the retry", len(items))
	}
}

func TestPermanentFailure(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.smtp.setRefuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"})
	f.svc.NotifyPost(ctx, f.post(t, "web01", "The shop is down", translators.SeverityCritical))
	f.svc.SendDue(ctx)
	items, _ := f.svc.Outbox(ctx, mailer.OutboxFilter{Failing: true})
	if len(items) != 1 || items[0].Status != mailer.StatusFailed || items[0].Attempts != 1 {
		t.Fatalf("after a 550: %+v", items[0])
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	set, err := f.svc.Settings(ctx)
	if err != nil || set.Password != "s3cret" {
		t.Fatalf("Settings = %+v, %v", set, err)
	}
	set.Password = ""
	if err := f.svc.SetSettings(ctx, set, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Settings(ctx); got.Password != "s3cret" {
		t.Fatal("an empty password replaced the saved one")
	}
	for _, bad := range []mailer.Settings{
		{Host: "smtp.example.com", Port: 0, From: "a@example.com", Security: mailer.TLS},
		{Host: "smtp.example.com", Port: 465, From: "nobody", Security: mailer.TLS},
		{Host: "smtp.example.com", Port: 465, From: "a@example.com", Security: "ssl"},
		{Host: "smtp://x", Port: 465, From: "a@example.com", Security: mailer.TLS},
	} {
		if err := f.svc.SetSettings(ctx, bad, false); feed.ErrorCode(err) != feed.EINVALID {
			t.Errorf("SetSettings(%+v) = %v, want EINVALID", bad, err)
		}
	}
	// Mail off: nothing is queued.
	if err := f.svc.SetSettings(ctx, mailer.Settings{}, false); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.svc.NotifyPost(ctx, f.post(t, "web01", "The shop is down", translators.SeverityCritical)); n != 0 {
		t.Fatal("mail queued while mail is off")
	}
}
