package timeline

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/feeds"
)

// gorilla/feeds builds the RSS and Atom documents; encoding/xml would
// marshal them by reflection, which is most of the cost of a feed. These
// writers put out the same documents — the elements and attributes
// WriteFeed fills, in gorilla's order — escaping as encoding/xml does.

// xmlWriter appends a document to a buffer.
type xmlWriter struct{ b []byte }

func (x *xmlWriter) raw(s string) { x.b = append(x.b, s...) }

// text appends s escaped for element content or an attribute value;
// characters XML cannot carry become U+FFFD.
func (x *xmlWriter) text(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == '&':
				x.raw("&amp;")
			case c == '<':
				x.raw("&lt;")
			case c == '>':
				x.raw("&gt;")
			case c == '"':
				x.raw("&#34;")
			case c == '\'':
				x.raw("&#39;")
			case c == '\r':
				x.raw("&#xD;")
			case c < 0x20 && c != '\t' && c != '\n':
				x.raw("\uFFFD")
			default:
				x.b = append(x.b, c)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
			x.raw("\uFFFD")
		} else {
			x.b = append(x.b, s[i:i+n]...)
		}
		i += n
	}
}

// elem appends <tag>s</tag>.
func (x *xmlWriter) elem(tag, s string) {
	x.raw("<" + tag + ">")
	x.text(s)
	x.raw("</" + tag + ">")
}

// opt appends <tag>s</tag> unless s is empty.
func (x *xmlWriter) opt(tag, s string) {
	if s != "" {
		x.elem(tag, s)
	}
}

// cdata appends s as CDATA, split where it holds "]]>".
func (x *xmlWriter) cdata(s string) {
	x.raw("<![CDATA[")
	x.raw(strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>"))
	x.raw("]]>")
}

func (x *xmlWriter) flush(w io.Writer) error {
	_, err := w.Write(x.b)
	return err
}

// writeRSS writes gorilla's RSS 2.0 document.
func writeRSS(w io.Writer, ch *feeds.RssFeed) error {
	x := &xmlWriter{b: make([]byte, 0, 2048+1024*len(ch.Items))}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw(`<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>`)
	x.elem("title", ch.Title)
	x.elem("link", ch.Link)
	x.elem("description", ch.Description)
	x.opt("copyright", ch.Copyright)
	x.opt("managingEditor", ch.ManagingEditor)
	x.opt("pubDate", ch.PubDate)
	x.opt("lastBuildDate", ch.LastBuildDate)
	for _, it := range ch.Items {
		x.raw("<item>")
		x.elem("title", it.Title)
		x.elem("link", it.Link)
		x.elem("description", it.Description)
		if it.Content != nil {
			x.raw("<content:encoded>")
			x.cdata(it.Content.Content)
			x.raw("</content:encoded>")
		}
		x.opt("author", it.Author)
		if it.Guid != nil {
			x.raw("<guid")
			if it.Guid.IsPermaLink != "" {
				x.raw(` isPermaLink="`)
				x.text(it.Guid.IsPermaLink)
				x.raw(`"`)
			}
			x.raw(">")
			x.text(it.Guid.Id)
			x.raw("</guid>")
		}
		x.opt("pubDate", it.PubDate)
		x.raw("</item>\n")
	}
	x.raw("</channel></rss>\n")
	return x.flush(w)
}

// writeAtom writes gorilla's Atom document.
func writeAtom(w io.Writer, f *feeds.AtomFeed) error {
	x := &xmlWriter{b: make([]byte, 0, 2048+1280*len(f.Entries))}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw(`<feed xmlns="http://www.w3.org/2005/Atom">`)
	x.elem("title", f.Title)
	x.elem("id", f.Id)
	x.elem("updated", f.Updated)
	x.opt("rights", f.Rights)
	x.opt("subtitle", f.Subtitle)
	if f.Link != nil {
		link(x, *f.Link)
	}
	if f.Author != nil {
		person(x, f.Author.AtomPerson)
	}
	x.raw("\n")
	for _, e := range f.Entries {
		x.raw("<entry>")
		x.elem("title", e.Title)
		x.elem("updated", e.Updated)
		x.elem("id", e.Id)
		if e.Content != nil {
			x.raw(`<content type="`)
			x.text(e.Content.Type)
			x.raw(`">`)
			x.text(e.Content.Content)
			x.raw("</content>")
		}
		for _, l := range e.Links {
			link(x, l)
		}
		if e.Summary != nil {
			x.raw(`<summary type="`)
			x.text(e.Summary.Type)
			x.raw(`">`)
			x.text(e.Summary.Content)
			x.raw("</summary>")
		}
		if e.Author != nil {
			person(x, e.Author.AtomPerson)
		}
		x.raw("</entry>\n")
	}
	x.raw("</feed>\n")
	return x.flush(w)
}

func link(x *xmlWriter, l feeds.AtomLink) {
	x.raw(`<link href="`)
	x.text(l.Href)
	x.raw(`"`)
	for _, a := range [][2]string{{"rel", l.Rel}, {"type", l.Type}, {"length", l.Length}} {
		if a[1] != "" {
			x.raw(" " + a[0] + `="`)
			x.text(a[1])
			x.raw(`"`)
		}
	}
	x.raw("></link>")
}

func person(x *xmlWriter, p feeds.AtomPerson) {
	x.raw("<author>")
	x.opt("name", p.Name)
	x.opt("uri", p.Uri)
	x.opt("email", p.Email)
	x.raw("</author>")
}
