package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestWorldSVGIsGenerated checks that assets/world.svg is what mapgen
// makes of the TopoJSON beside it (run `go generate ./assets/mapgen`
// after changing either).
func TestWorldSVGIsGenerated(t *testing.T) {
	data, err := os.ReadFile("countries-110m.json")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Convert(&b, data); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../world.svg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), committed) {
		t.Fatal("assets/world.svg is stale: run go generate ./assets/mapgen")
	}
	if got, want := strings.Count(b.String(), "<path "), 177; got != want {
		t.Fatalf("%d countries, want %d", got, want)
	}
	for _, name := range []string{`data-name="Netherlands"`, `data-name="Brazil"`, `data-name="Antarctica"`} {
		if !strings.Contains(b.String(), name) {
			t.Errorf("the map lacks %s", name)
		}
	}
}

func TestTenths(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0"}, {12, "1.2"}, {-5, "-.5"}, {5, ".5"}, {-120, "-12"}, {3601, "360.1"}} {
		if got := tenths(tc.n); got != tc.want {
			t.Errorf("tenths(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestProject(t *testing.T) {
	for _, tc := range []struct {
		lon, lat float64
		want     point
	}{{-180, 90, point{0, 0}}, {0, 0, point{5000, 2500}}, {180, -90, point{10000, 5000}}, {4.9, 52.37, point{5136, 1045}}} {
		if got := project(tc.lon, tc.lat); got != tc.want {
			t.Errorf("project(%v, %v) = %v, want %v", tc.lon, tc.lat, got, tc.want)
		}
	}
}
