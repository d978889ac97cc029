package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode"

	"fleetfeed/feed"
)

// message is a mail before it is written out.
type message struct {
	From, To    string
	Subject     string
	Unsubscribe string
	Date        time.Time
	Text        string
	HTML        string
}

// oneLine removes control characters (a header must stay one header).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// bytes writes the message as RFC 5322 with a multipart/alternative body:
// plain text first, HTML second, both quoted-printable UTF-8.
func (m *message) bytes() []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	from, _ := mail.ParseAddress(m.From)
	id := make([]byte, 12)
	rand.Read(id)
	domain := "fleetfeed.invalid"
	if from != nil {
		if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
			domain = from.Address[i+1:]
		}
	}
	h := []struct{ k, v string }{
		{"From", m.From},
		{"To", m.To},
		{"Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject))},
		{"Date", m.Date.Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Auto-Submitted", "auto-generated"},
		{"List-Unsubscribe", "<" + m.Unsubscribe + ">"},
		{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
		{"Content-Type", `multipart/alternative; boundary="` + mw.Boundary() + `"`},
	}
	var head bytes.Buffer
	for _, kv := range h {
		fmt.Fprintf(&head, "%s: %s\r\n", kv.k, kv.v)
	}
	head.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, _ := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		qp := quotedprintable.NewWriter(w)
		qp.Write([]byte(strings.ReplaceAll(part.body, "\n", "\r\n")))
		qp.Close()
	}
	mw.Close()
	return append(head.Bytes(), b.Bytes()...)
}

// postView is a post as mail shows it.
type postView struct {
	Time     string
	Sentence string
	Note     string
	Severity string
	URL      string
}

// group is a server's posts in a digest.
type group struct {
	Node    string
	NodeURL string
	Posts   []postView
}

func (s *Service) url(path string) string { return strings.TrimSuffix(s.BaseURL, "/") + path }

func (s *Service) view(p *feed.Post) postView {
	return postView{
		Time:     p.CreatedAt.UTC().Format("15:04 UTC"),
		Sentence: p.FullText(),
		Note:     p.FoldNote(),
		Severity: string(p.Severity),
		URL:      s.url("/posts/" + feed.FormatID(p.ID)),
	}
}

var htmlTemplates = template.Must(template.New("").Parse(`
{{define "critical"}}<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<p style="color: #666">{{.Node}} · {{.Post.Time}}</p>
<p style="font-size: 1.2em"><strong>{{.Post.Sentence}}</strong>{{if .Post.Note}} <em>({{.Post.Note}})</em>{{end}}</p>
<p><a href="{{.Post.URL}}">See the post</a> · <a href="{{.NodeURL}}">{{.Node}}</a></p>
<hr><p style="color: #666; font-size: 0.9em">You get this mail because you follow {{.Node}} (or a hashtag or list it is in) and asked for mail about critical posts.
<a href="{{.Unsubscribe}}">Stop these mails</a>.</p>
</body></html>{{end}}
{{define "digest"}}<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h1 style="font-size: 1.3em">{{.Title}}</h1>
{{range .Groups}}<h2 style="font-size: 1.1em"><a href="{{.NodeURL}}">{{.Node}}</a></h2>
<ul>{{range .Posts}}<li>{{.Time}} · <a href="{{.URL}}">{{.Sentence}}</a>{{if .Note}} <em>({{.Note}})</em>{{end}}</li>
{{end}}</ul>
{{end}}{{if .More}}<p>There were more: <a href="{{.HomeURL}}">read your timeline</a>.</p>{{end}}
<hr><p style="color: #666; font-size: 0.9em">Your daily digest of what you follow on fleetfeed.
<a href="{{.Unsubscribe}}">Stop the digest</a>.</p>
</body></html>{{end}}
`))

func render(name string, data any) string {
	var b strings.Builder
	if err := htmlTemplates.ExecuteTemplate(&b, name, data); err != nil {
		// The templates are fixed and their data is strings: a failure
		// is a bug in this file.
		panic(err)
	}
	return b.String()
}

// criticalMessage is the mail about one critical post.
func (s *Service) criticalMessage(from, to, unsubscribe string, p *feed.Post, now time.Time) *message {
	v := s.view(p)
	nodeURL := s.url("/@" + p.Node)
	var t strings.Builder
	fmt.Fprintf(&t, "%s · %s\n\n%s\n", p.Node, p.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), v.Sentence)
	if v.Note != "" {
		fmt.Fprintf(&t, "(%s)\n", v.Note)
	}
	fmt.Fprintf(&t, "\nSee the post: %s\n\n-- \nYou get this mail because you follow %s (or a hashtag or list it is in)\nand asked for mail about critical posts. Stop these mails:\n%s\n", v.URL, p.Node, unsubscribe)
	return &message{
		From: from, To: to, Date: now, Unsubscribe: unsubscribe,
		Subject: fmt.Sprintf("[fleetfeed] %s: %s", p.Node, p.Text),
		Text:    t.String(),
		HTML: render("critical", map[string]any{
			"Node": p.Node, "NodeURL": nodeURL, "Post": v, "Unsubscribe": unsubscribe,
		}),
	}
}

// digestMessage is the daily mail of posts, grouped by server, servers in
// the order of their newest post.
func (s *Service) digestMessage(from, to, unsubscribe string, day time.Time, posts []*feed.Post, truncated bool, now time.Time) *message {
	var groups []*group
	byNode := map[string]*group{}
	for _, p := range posts {
		g := byNode[p.Node]
		if g == nil {
			g = &group{Node: p.Node, NodeURL: s.url("/@" + p.Node)}
			byNode[p.Node] = g
			groups = append(groups, g)
		}
		g.Posts = append(g.Posts, s.view(p))
	}
	n := len(posts)
	count := fmt.Sprintf("%d %s", n, plural(n, "post", "posts"))
	if truncated {
		count = fmt.Sprintf("The latest %d posts", n)
	}
	title := fmt.Sprintf("%s from %d %s on %s", count, len(groups), plural(len(groups), "server", "servers"),
		day.Format("Monday 2 January 2006"))
	var t strings.Builder
	t.WriteString(title + "\n")
	for _, g := range groups {
		fmt.Fprintf(&t, "\n%s (%s)\n", g.Node, g.NodeURL)
		for _, p := range g.Posts {
			fmt.Fprintf(&t, "  %s  %s", p.Time, p.Sentence)
			if p.Note != "" {
				fmt.Fprintf(&t, " (%s)", p.Note)
			}
			t.WriteString("\n")
		}
	}
	if truncated {
		fmt.Fprintf(&t, "\nThere were more: read your timeline at %s\n", s.url("/"))
	}
	fmt.Fprintf(&t, "\n-- \nYour daily digest of what you follow on fleetfeed. Stop the digest:\n%s\n", unsubscribe)
	return &message{
		From: from, To: to, Date: now, Unsubscribe: unsubscribe,
		Subject: "[fleetfeed] Daily digest: " + title,
		Text:    t.String(),
		HTML: render("digest", map[string]any{
			"Title": title, "Groups": groups, "More": truncated, "HomeURL": s.url("/"), "Unsubscribe": unsubscribe,
		}),
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
