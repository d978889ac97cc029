package render

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// sparkTicks are the eight heights of a sparkline.
var sparkTicks = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws counts as one line of block characters, the highest
// count as a full block and zero as the lowest.
func Sparkline(counts []float64) string {
	if len(counts) == 0 {
		return ""
	}
	top := slices.Max(counts)
	var b strings.Builder
	for _, c := range counts {
		i := 0
		if top > 0 && c > 0 {
			i = int(math.Round(c / top * float64(len(sparkTicks)-1)))
		}
		b.WriteRune(sparkTicks[i])
	}
	return b.String()
}

// Buckets counts values in n equal buckets between their minimum and
// maximum (all in one bucket, the middle one, if they are equal).
func Buckets(values []float64, n int) []float64 {
	if len(values) == 0 || n < 1 {
		return nil
	}
	out := make([]float64, n)
	lo, hi := slices.Min(values), slices.Max(values)
	for _, v := range values {
		i := n / 2
		if hi > lo {
			i = min(n-1, int((v-lo)/(hi-lo)*float64(n)))
		}
		out[i]++
	}
	return out
}

// TimeBuckets counts durations in buckets of width, from zero up to the
// bucket of the longest, as MCollective's ping --graph does with 50 ms.
func TimeBuckets(ds []time.Duration, width time.Duration) []float64 {
	if len(ds) == 0 || width <= 0 {
		return nil
	}
	n := int(slices.Max(ds)/width) + 1
	out := make([]float64, n)
	for _, d := range ds {
		out[int(d/width)]++
	}
	return out
}

// PlotKind is how Plot draws.
type PlotKind string

// The plot kinds.
const (
	PlotHistogram PlotKind = "histogram"
	PlotLine      PlotKind = "line"
)

// PlotOptions describe a plot of the distribution of Values: how many
// nodes (y) had a value in each of Buckets ranges (x).
type PlotOptions struct {
	Title  string
	XLabel string
	YLabel string
	Values []float64
	// Buckets is the number of ranges (default 20); Width and Height
	// the size of the plotting area in characters (default 60 × 15).
	Buckets int
	Width   int
	Height  int
	Kind    PlotKind
}

// Plot draws a text plot of the distribution of o.Values: the title, the
// y axis with node counts, the bars (histogram) or line, and the x axis
// labelled with the range of the values.
func Plot(w io.Writer, o PlotOptions) error {
	if o.Buckets <= 0 {
		o.Buckets = 20
	}
	if o.Width <= 0 {
		o.Width = 60
	}
	if o.Height <= 0 {
		o.Height = 15
	}
	var b strings.Builder
	if len(o.Values) == 0 {
		if o.Title != "" {
			b.WriteString(o.Title + "\n\n")
		}
		b.WriteString("   (no values to plot)\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	counts := Buckets(o.Values, o.Buckets)
	top := slices.Max(counts)
	// Each bucket gets the same number of columns.
	colw := max(1, o.Width/o.Buckets)
	width := colw * o.Buckets
	// A histogram's row r (1 at the bottom) is filled up to top*r/rows,
	// above the axis, which is 0. A line's row k (0 at the bottom) is the
	// value top*k/(rows-1): the line can lie on zero.
	rows := min(o.Height, int(top))
	label := func(r int) float64 { return top * float64(r) / float64(rows) }
	first, axis := 1, "0"
	if o.Kind == PlotLine {
		rows = max(2, min(o.Height, int(top)+1))
		label = func(r int) float64 { return top * float64(r) / float64(rows-1) }
		first, axis = 0, ""
	}
	ylabels := map[int]string{}
	lw := len(axis)
	for r := first; r < first+rows; r++ {
		ylabels[r] = Number(math.Round(label(r)))
		lw = max(lw, len(ylabels[r]))
	}
	if o.Title != "" {
		b.WriteString(center(o.Title, lw+2+width) + "\n\n")
	}
	if o.YLabel != "" {
		b.WriteString(o.YLabel + "\n")
	}
	var grid [][]rune
	if o.Kind == PlotLine {
		grid = lineGrid(counts, top, rows, colw)
	} else {
		grid = barGrid(counts, top, rows, colw)
	}
	for r := first + rows - 1; r >= first; r-- {
		line := fmt.Sprintf("%*s ┤", lw, ylabels[r]) + string(grid[r-first])
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	fmt.Fprintf(&b, "%*s └%s\n", lw, axis, strings.Repeat("─", width))
	lo, hi := slices.Min(o.Values), slices.Max(o.Values)
	b.WriteString(strings.TrimRight(axisLabels(lo, hi, lw+2, width), " ") + "\n")
	if o.XLabel != "" {
		b.WriteString(strings.TrimRight(center(o.XLabel, lw+2+width), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// barGrid draws a bar per bucket; grid[r] is row r+1 from the bottom.
// The top of a bar shows eighths of a row.
func barGrid(counts []float64, top float64, rows, colw int) [][]rune {
	grid := newGrid(rows, colw*len(counts))
	for i, c := range counts {
		h := c / top * float64(rows) // height in rows
		for r := 0; r < rows; r++ {
			fill := h - float64(r)
			var ch rune
			switch {
			case fill >= 1:
				ch = '█'
			case fill > 0:
				ch = sparkTicks[max(0, min(7, int(math.Round(fill*8))-1))]
			default:
				continue
			}
			for x := 0; x < colw; x++ {
				grid[r][i*colw+x] = ch
			}
		}
	}
	return grid
}

// lineGrid draws the counts as a line through the middle of each
// bucket's columns, with box-drawing characters.
func lineGrid(counts []float64, top float64, rows, colw int) [][]rune {
	width := colw * len(counts)
	grid := newGrid(rows, width)
	// y per column, 0..rows-1, interpolated between bucket centres.
	ys := make([]int, width)
	for x := range ys {
		pos := (float64(x)+0.5)/float64(colw) - 0.5
		i := max(0, min(len(counts)-1, int(math.Floor(pos))))
		j := min(len(counts)-1, i+1)
		t := max(0, min(1, pos-float64(i)))
		v := counts[i]*(1-t) + counts[j]*t
		ys[x] = int(math.Round(v / top * float64(rows-1)))
	}
	for x, y := range ys {
		if x == 0 {
			grid[y][x] = '─'
			continue
		}
		prev := ys[x-1]
		switch {
		case y == prev:
			grid[y][x] = '─'
		case y > prev:
			grid[prev][x] = '╯'
			grid[y][x] = '╭'
			for r := prev + 1; r < y; r++ {
				grid[r][x] = '│'
			}
		default:
			grid[prev][x] = '╮'
			grid[y][x] = '╰'
			for r := y + 1; r < prev; r++ {
				grid[r][x] = '│'
			}
		}
	}
	return grid
}

func newGrid(rows, width int) [][]rune {
	grid := make([][]rune, max(rows, 1))
	for r := range grid {
		grid[r] = []rune(strings.Repeat(" ", width))
	}
	return grid
}

// axisLabels writes the minimum under the start of the x axis, the
// maximum under its end and the middle value under its middle.
func axisLabels(lo, hi float64, indent, width int) string {
	line := []rune(strings.Repeat(" ", indent+width+8))
	put := func(at int, s string) {
		at = max(0, min(at, len(line)-utf8.RuneCountInString(s)))
		for i, r := range []rune(s) {
			line[at+i] = r
		}
	}
	left, right := Number(lo), Number(hi)
	if hi == lo { // every value is in the middle bucket
		put(indent+width/2-len(left)/2, left)
		return string(line)
	}
	put(indent, left)
	{
		mid := Number((lo + hi) / 2)
		put(indent+width/2-len(mid)/2, mid)
		put(indent+width-len(right), right)
	}
	return string(line)
}

func center(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s
	}
	return strings.Repeat(" ", (width-n)/2) + s
}
