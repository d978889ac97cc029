package timeline

import (
	"bytes"
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/feeds"

	"fleetfeed/feed"
	"fleetfeed/translators"
)

func testMeta() FeedMeta {
	return FeedMeta{
		Title: "Feed <&> \"test\"", Description: "Posts' feed",
		PageURL: "https://fleet.example.com/", FeedURL: "https://fleet.example.com/public.rss",
		PostURL: func(p *feed.Post) string { return "https://fleet.example.com/posts/" + feed.FormatID(p.ID) },
		TagURL:  func(t string) string { return "https://fleet.example.com/tags/" + t },
		NodeURL: func(n string) string { return "https://fleet.example.com/@" + n },
	}
}

func testPosts() []*feed.Post {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	texts := []string{
		`A request carried <script>alert("x")</script> & 'more'`,
		"Bell \a, escape \x1b, CR \r, tab \t and a newline\nin a log line",
		"CDATA ends ]]> here, and invalid UTF-8 \xff here",
		"Ünïcödé, emoji 🚨, and U+FFFE \uFFFE",
	}
	var posts []*feed.Post
	for i, text := range texts {
		posts = append(posts, &feed.Post{
			ID: feed.MinIDAt(at.Add(time.Duration(i) * time.Minute)), Node: "web<0" + string(rune('1'+i)) + ">",
			Text: text, Tags: []string{"security", "warning"}, Severity: translators.SeverityWarning,
			CreatedAt: at, LastAt: at.Add(time.Duration(i) * time.Minute), Count: 1 + i,
		})
	}
	return posts
}

// The RSS and Atom writers put out what encoding/xml makes of the same
// gorilla/feeds model.
func TestXMLWritersMatchEncodingXML(t *testing.T) {
	f := buildFeed(testMeta(), testPosts())
	for _, tt := range []struct {
		name  string
		write func(*bytes.Buffer) error
		model any
		into  func() any
	}{
		{"rss", func(b *bytes.Buffer) error { return WriteFeed(b, FormatRSS, testMeta(), testPosts()) },
			(&feeds.Rss{Feed: f}).FeedXml(), func() any { return &feeds.RssFeedXml{} }},
		{"atom", func(b *bytes.Buffer) error { return WriteFeed(b, FormatAtom, testMeta(), testPosts()) },
			(&feeds.Atom{Feed: f}).FeedXml(), func() any { return &feeds.AtomFeed{} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ours bytes.Buffer
			if err := tt.write(&ours); err != nil {
				t.Fatal(err)
			}
			theirs, err := xml.Marshal(tt.model)
			if err != nil {
				t.Fatal(err)
			}
			got, want := tt.into(), tt.into()
			if err := xml.Unmarshal(ours.Bytes(), got); err != nil {
				t.Fatalf("our XML does not parse: %v\n%s", err, ours.Bytes())
			}
			if err := xml.Unmarshal(theirs, want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("documents differ:\nours:   %+v\ntheirs: %+v", got, want)
			}
			for _, bad := range []string{"\a", "\x1b", "\xff"} {
				if strings.Contains(ours.String(), bad) {
					t.Errorf("the document carries %q", bad)
				}
			}
		})
	}
}

func TestFeedETagFollowsWhatIsRendered(t *testing.T) {
	meta, posts := testMeta(), testPosts()
	base := FeedETag(FormatRSS, meta, posts)
	if FeedETag(FormatRSS, meta, testPosts()) != base {
		t.Fatal("the same feed has two ETags")
	}
	posts[2].Count++
	if FeedETag(FormatRSS, meta, posts) == base {
		t.Error("a fold does not change the ETag")
	}
	if FeedETag(FormatAtom, meta, testPosts()) == base {
		t.Error("two formats share an ETag")
	}
	meta.Title = "other"
	if FeedETag(FormatRSS, meta, testPosts()) == base {
		t.Error("a new title does not change the ETag")
	}
	if got, want := FeedUpdated(testPosts()), time.Date(2026, 11, 25, 9, 3, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("updated = %v, want %v", got, want)
	}
}

func TestSplitFeedPath(t *testing.T) {
	for _, tt := range []struct {
		in, base string
		f        FeedFormat
		ok       bool
	}{
		{"web01.rss", "web01", FormatRSS, true},
		{"web01.example.com.atom", "web01.example.com", FormatAtom, true},
		{"security.json", "security", FormatJSON, true},
		{"web01.example.com", "web01.example.com", "", false},
		{"web01", "web01", "", false},
		{"web01.xml", "web01.xml", "", false},
	} {
		base, f, ok := SplitFeedPath(tt.in)
		if base != tt.base || f != tt.f || ok != tt.ok {
			t.Errorf("SplitFeedPath(%q) = %q, %q, %v; want %q, %q, %v", tt.in, base, f, ok, tt.base, tt.f, tt.ok)
		}
	}
}
