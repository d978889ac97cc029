package translators

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sharedTestdata is the folder of real tool output beside the project.
const sharedTestdata = "../../shared/testdata"

// readShared reads a file of real tool output, failing the test when it is
// missing (it is part of the project's checkout in CI).
func readShared(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedTestdata, rel))
	if err != nil {
		t.Fatalf("read shared testdata: %v", err)
	}
	return b
}

// checkGolden compares evs, as indented JSON, with testdata/golden/NAME.json,
// rewriting it under -update.
func checkGolden(t *testing.T, name string, evs []Event) {
	t.Helper()
	if evs == nil {
		evs = []Event{}
	}
	got, err := json.MarshalIndent(evs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file; run go test -update and review the diff.\ngot:\n%s", path, got)
	}
}

// checkPlain fails the test for any post that a business reader would
// stumble over: no text, too long, jargon, a missing severity or source tag.
func checkPlain(t *testing.T, evs []Event) {
	t.Helper()
	for i, ev := range evs {
		if ev.ID == "" || ev.Node == "" || ev.Source == "" {
			t.Errorf("event %d: id %q node %q source %q: all three are required", i, ev.ID, ev.Node, ev.Source)
		}
		p := ev.Post
		if p == nil {
			continue
		}
		full := Sentence(p.Text, p.Tags)
		if p.Text == "" {
			t.Errorf("event %d: no text", i)
		}
		if n := utf8.RuneCountInString(full); n > MaxSentence-40 {
			// Leave room for the role tags the pipeline adds.
			t.Errorf("event %d: %q is %d characters, more than %d", i, full, n, MaxSentence-40)
		}
		if strings.Contains(p.Text, "#") {
			t.Errorf("event %d: %q: hashtags belong in Tags", i, p.Text)
		}
		for _, j := range jargon {
			if j.re.MatchString(p.Text) {
				t.Errorf("event %d: %q holds %s", i, p.Text, j.what)
			}
		}
		if !p.Severity.Valid() {
			t.Errorf("event %d: severity %q", i, p.Severity)
		}
		if len(p.Tags) < 2 {
			t.Errorf("event %d: tags %v: want at least a source and a state tag", i, p.Tags)
		}
		for _, tag := range p.Tags {
			if Tag(tag) != tag {
				t.Errorf("event %d: tag %q is not normalized", i, tag)
			}
		}
	}
}
