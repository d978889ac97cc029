package timeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/feeds"

	"fleetfeed/feed"
)

// FeedFormat is a syndication format a timeline is offered in.
type FeedFormat string

// The formats, named by the extension of their URLs.
const (
	FormatRSS  FeedFormat = "rss"
	FormatAtom FeedFormat = "atom"
	FormatJSON FeedFormat = "json"
)

// FeedFormats lists every format, in the order pages offer them.
var FeedFormats = []FeedFormat{FormatRSS, FormatAtom, FormatJSON}

// ContentType is the media type the format is served with.
func (f FeedFormat) ContentType() string {
	switch f {
	case FormatRSS:
		return "application/rss+xml; charset=utf-8"
	case FormatAtom:
		return "application/atom+xml; charset=utf-8"
	case FormatJSON:
		return "application/feed+json; charset=utf-8"
	}
	return "application/octet-stream"
}

// Name is how a reader calls the format: "RSS", "Atom", "JSON Feed".
func (f FeedFormat) Name() string {
	switch f {
	case FormatRSS:
		return "RSS"
	case FormatAtom:
		return "Atom"
	case FormatJSON:
		return "JSON Feed"
	}
	return string(f)
}

// SplitFeedPath splits "web01.rss" into "web01" and FormatRSS; ok is false
// when the name does not end in a feed format's extension.
func SplitFeedPath(name string) (base string, f FeedFormat, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name, "", false
	}
	switch f := FeedFormat(name[i+1:]); f {
	case FormatRSS, FormatAtom, FormatJSON:
		return name[:i], f, true
	}
	return name, "", false
}

// FeedMeta describes a timeline's feed. Every URL is absolute.
type FeedMeta struct {
	Title       string
	Description string
	// PageURL is the timeline's web page; it is also the feed's id.
	PageURL string
	// FeedURL is the feed itself.
	FeedURL string
	// PostURL, TagURL and NodeURL give the pages items link to.
	PostURL func(*feed.Post) string
	TagURL  func(tag string) string
	NodeURL func(node string) string
}

// feedVersion changes when the rendering does, so that ETags made by an
// older fleetfeed no longer match.
const feedVersion = "1"

// FeedETag is the entity tag of a feed of posts in format: it changes
// whenever the rendered feed would, and is computed without rendering it.
func FeedETag(format FeedFormat, meta FeedMeta, posts []*feed.Post) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00", feedVersion, format, meta.FeedURL, meta.PageURL, meta.Title, meta.Description)
	var b []byte
	for _, p := range posts {
		b = strconv.AppendInt(b[:0], p.ID, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(p.Count), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, p.LastAt.UnixMilli(), 10)
		b = append(b, 0)
		h.Write(b)
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// FeedUpdated is when a feed of posts last changed: the newest time a post
// was stored or a repeat folded into one; zero for no posts.
func FeedUpdated(posts []*feed.Post) time.Time {
	var t time.Time
	for _, p := range posts {
		if s := feed.IDTime(p.ID); s.After(t) {
			t = s
		}
		if p.LastAt.After(t) {
			t = p.LastAt
		}
	}
	return t.UTC()
}

// WriteFeed renders posts, newest first, as a feed in format. An item's
// title is the post's sentence with its hashtags; its content adds the
// fold note, the severity and the server, and links to the post's page.
func WriteFeed(w io.Writer, format FeedFormat, meta FeedMeta, posts []*feed.Post) error {
	f := buildFeed(meta, posts)
	switch format {
	case FormatRSS:
		return writeRSS(w, (&feeds.Rss{Feed: f}).RssFeed())
	case FormatAtom:
		return writeAtom(w, (&feeds.Atom{Feed: f}).AtomFeed())
	case FormatJSON:
		j := (&feeds.JSON{Feed: f}).JSONFeed()
		j.FeedUrl = meta.FeedURL
		// JSON Feed's summary is plain text, and it has tags of its own.
		for i, p := range posts {
			j.Items[i].Summary = xmlSafe(summary(p))
			j.Items[i].Tags = p.Tags
		}
		e := json.NewEncoder(w)
		e.SetEscapeHTML(false)
		return e.Encode(j)
	}
	return feed.Errorf(feed.EINVALID, "%q is not a feed format", format)
}

// buildFeed is gorilla/feeds' model of a feed of posts.
func buildFeed(meta FeedMeta, posts []*feed.Post) *feeds.Feed {
	f := &feeds.Feed{
		Title:       meta.Title,
		Link:        &feeds.Link{Href: meta.PageURL},
		Description: meta.Description,
		Id:          meta.PageURL,
		Updated:     FeedUpdated(posts),
		Items:       make([]*feeds.Item, 0, len(posts)),
	}
	if f.Updated.IsZero() {
		// A feed needs a date; an empty one has not changed since 1970.
		f.Updated = time.Unix(0, 0).UTC()
	}
	for _, p := range posts {
		u := meta.PostURL(p)
		f.Items = append(f.Items, &feeds.Item{
			Title:       xmlSafe(p.FullText()),
			Link:        &feeds.Link{Href: u},
			Author:      &feeds.Author{Name: xmlSafe("@" + p.Node)},
			Description: html.EscapeString(xmlSafe(summary(p))),
			Id:          u,
			IsPermaLink: "true",
			Created:     p.CreatedAt,
			Updated:     p.LastAt,
			Content:     xmlSafe(itemHTML(p, meta)),
		})
	}
	return f
}

// summary is the post in plain text: the sentence, then how often it
// happened.
func summary(p *feed.Post) string {
	s := p.FullText()
	if n := p.FoldNote(); n != "" {
		s += " — " + n
	}
	return s
}

var severityNames = map[string]string{"ok": "OK", "info": "Info", "warning": "Warning", "critical": "Critical"}

// itemHTML is an item's content: every string from the outside world is
// escaped.
func itemHTML(p *feed.Post, meta FeedMeta) string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString("<p>")
	b.WriteString(html.EscapeString(p.Text))
	for _, t := range p.Tags {
		b.WriteString(` <a href="`)
		b.WriteString(html.EscapeString(meta.TagURL(t)))
		b.WriteString(`">#`)
		b.WriteString(html.EscapeString(t))
		b.WriteString(`</a>`)
	}
	b.WriteString("</p>")
	if n := p.FoldNote(); n != "" {
		b.WriteString("<p><strong>")
		b.WriteString(html.EscapeString(n))
		b.WriteString("</strong></p>")
	}
	sev, ok := severityNames[string(p.Severity)]
	if !ok {
		sev = string(p.Severity)
	}
	b.WriteString("<p>Severity: ")
	b.WriteString(html.EscapeString(sev))
	b.WriteString(` · <a href="`)
	b.WriteString(html.EscapeString(meta.NodeURL(p.Node)))
	b.WriteString(`">@`)
	b.WriteString(html.EscapeString(p.Node))
	b.WriteString(`</a> · <a href="`)
	b.WriteString(html.EscapeString(meta.PostURL(p)))
	b.WriteString(`">Details and thread</a></p>`)
	return b.String()
}

// xmlSafe replaces the characters XML 1.0 cannot carry (most control
// characters), which a sentence from the outside world may hold, with
// U+FFFD: encoding/xml escapes text but writes CDATA as it is, and a
// reader rejects the whole feed for one such character.
func xmlSafe(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	ok := func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) ||
			(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
	}
	for _, r := range s {
		if !ok(r) {
			return strings.Map(func(r rune) rune {
				if ok(r) {
					return r
				}
				return '\uFFFD'
			}, s)
		}
	}
	return s
}
