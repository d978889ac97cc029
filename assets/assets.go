// Package assets holds fleetfeed's web pages' templates and static files
// (CSS, JavaScript, icons), embedded in the binary with go:embed.
//
// The package has no logic: the web package parses the templates once at
// start and serves the static files under a hash of their content.
//
// Templates are html/template files; each page template defines "title"
// and "main" and is executed with layout.html. Static files must work
// under the strict Content-Security-Policy the web package sends: no
// inline scripts or styles, no on* attributes, and JavaScript that puts
// data into the page with textContent, never innerHTML.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed templates/*.html
var templates embed.FS

//go:embed static/*
var static embed.FS

// Templates holds the html/template files, at the root.
var Templates fs.FS = mustSub(templates, "templates")

// Static holds the files served under /static/, at the root.
var Static fs.FS = mustSub(static, "static")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
