package rpc

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		ok   bool
	}{
		{"", Size{}, true},
		{"10", Size{N: 10}, true},
		{" 25% ", Size{Percent: 25}, true},
		{"12.5%", Size{Percent: 12.5}, true},
		{"0", Size{}, false},
		{"-3", Size{}, false},
		{"0%", Size{}, false},
		{"101%", Size{}, false},
		{"ten", Size{}, false},
		{"NaN%", Size{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseSize(%q) error %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error %v does not wrap ErrInvalidRequest", err)
			}
			if got != tc.want {
				t.Fatalf("ParseSize(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if tc.ok && tc.in != "" {
				if back, _ := ParseSize(got.String()); back != got {
					t.Fatalf("String() = %q does not parse back", got.String())
				}
			}
		})
	}
}

func TestSizeOf(t *testing.T) {
	for _, tc := range []struct {
		size  Size
		total int
		want  int
	}{
		{Size{}, 7, 7},
		{Size{N: 3}, 7, 3},
		{Size{N: 30}, 7, 7},
		{Size{Percent: 25}, 40, 10},
		{Size{Percent: 25}, 41, 11}, // rounds up
		{Size{Percent: 1}, 5, 1},    // at least one
		{Size{Percent: 50}, 0, 0},
	} {
		if got := tc.size.Of(tc.total); got != tc.want {
			t.Errorf("%+v.Of(%d) = %d, want %d", tc.size, tc.total, got, tc.want)
		}
	}
}

func TestSizePickAndSplit(t *testing.T) {
	var nodes []string
	for i := range 10 {
		nodes = append(nodes, fmt.Sprint("n", i))
	}
	first, err := Size{N: 3}.Pick(nodes, LimitFirst, 0)
	if err != nil || !slices.Equal(first, nodes[:3]) {
		t.Fatalf("first 3 = %v, %v", first, err)
	}
	a, _ := Size{N: 4}.Pick(nodes, LimitRandom, 7)
	b, _ := Size{N: 4}.Pick(nodes, "", 7)
	if len(a) != 4 || !slices.Equal(a, b) {
		t.Fatalf("seeded random picks %v and %v", a, b)
	}
	for i := 1; i < len(a); i++ { // in discovery order
		if slices.Index(nodes, a[i]) < slices.Index(nodes, a[i-1]) {
			t.Fatalf("pick %v is out of order", a)
		}
	}
	if _, err := (Size{N: 2}).Pick(nodes, "best", 0); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("unknown method: %v", err)
	}
	var sizes []int
	for _, batch := range (Size{N: 4}).split(nodes) {
		sizes = append(sizes, len(batch))
	}
	if got, want := sizes, []int{4, 4, 2}; !slices.Equal(got, want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	if got := len((Size{}).split(nodes)); got != 1 {
		t.Fatalf("unbatched: %d batches", got)
	}
}

func TestAggregateFunctions(t *testing.T) {
	act := &ActionDDL{
		Output: map[string]*OutputDDL{"v": {DisplayAs: "V"}, "tags": {DisplayAs: "Tags"}},
		Aggregate: []AggregateDDL{
			{Function: "summary", Args: []string{"tags"}}, {Function: "average", Args: []string{"v"}},
			{Function: "sum", Args: []string{"v"}}, {Function: "min", Args: []string{"v"}}, {Function: "max", Args: []string{"v"}},
		},
	}
	rep := func(code StatusCode, v any, tags ...any) Received {
		return Received{Reply: &Reply{StatusCode: code, Data: map[string]any{"v": v, "tags": tags}}}
	}
	sums := Aggregate(act, []Received{
		rep(StatusOK, 2.0, "a", "b"), rep(StatusOK, "4", "b"), rep(StatusOK, "x", "b"), rep(StatusAborted, 100.0, "z"),
	})
	if got, want := fmt.Sprint(sums[0].Counts), "[{b 3} {a 1}]"; got != want {
		t.Fatalf("summary = %s, want %s", got, want)
	}
	for i, want := range []float64{3, 6, 2, 4} {
		if got := sums[i+1].Value; got != want {
			t.Errorf("%s = %v, want %v", sums[i+1].Function, got, want)
		}
	}
	if got := Aggregate(act, []Received{rep(StatusAborted, 1.0)}); got != nil {
		t.Fatalf("aggregates of failures only: %v", got)
	}
}
