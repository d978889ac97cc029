package assets_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"fleetfeed/assets"
)

// The pages are served with a Content-Security-Policy that forbids inline
// scripts and styles; these checks keep the files within it, and keep the
// JavaScript from parsing server data as HTML.
func TestAssetsFollowTheContentSecurityPolicy(t *testing.T) {
	inlineScript := regexp.MustCompile(`(?is)<script(?:\s[^>]*)?>\s*[^<\s]`)
	handler := regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	styleAttr := regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`)
	styleElem := regexp.MustCompile(`(?i)<style[\s>]`)
	scriptURL := regexp.MustCompile(`(?i)javascript:`)
	for _, tt := range []struct {
		fsys fs.FS
		glob string
	}{{assets.Templates, "*.html"}, {assets.Static, "*.svg"}} {
		names, err := fs.Glob(tt.fsys, tt.glob)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 {
			t.Fatalf("no %s files", tt.glob)
		}
		for _, name := range names {
			b, err := fs.ReadFile(tt.fsys, name)
			if err != nil {
				t.Fatal(err)
			}
			for what, re := range map[string]*regexp.Regexp{
				"an inline script": inlineScript, "an on* attribute": handler,
				"a style attribute": styleAttr, "a style element": styleElem, "a javascript: URL": scriptURL,
			} {
				if loc := re.FindIndex(b); loc != nil {
					t.Errorf("%s has %s: %q", name, what, b[loc[0]:min(loc[1]+20, len(b))])
				}
			}
		}
	}

	js, err := fs.ReadFile(assets.Static, "app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", ".style."} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}

func TestEveryPageTemplateDefinesMain(t *testing.T) {
	for _, name := range []string{"timeline.html", "profile.html", "post.html", "error.html"} {
		b, err := fs.ReadFile(assets.Templates, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `{{define "main"`) {
			t.Errorf("%s does not define main", name)
		}
	}
	for _, name := range []string{"app.js", "app.css", "icon.svg"} {
		if _, err := fs.Stat(assets.Static, name); err != nil {
			t.Errorf("static file %s: %v", name, err)
		}
	}
}
