package rpc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Size is a number of nodes, or a percentage of the nodes there are:
// --limit and --batch take "10" or "25%". The zero Size means "all".
type Size struct {
	N       int
	Percent float64
}

// ParseSize reads "N" (N ≥ 1) or "P%" (0 < P ≤ 100); "" is the zero Size.
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Size{}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f <= 0 || f > 100 || math.IsNaN(f) {
			return Size{}, fmt.Errorf("%q: want a percentage above 0 and at most 100: %w", s, ErrInvalidRequest)
		}
		return Size{Percent: f}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Size{}, fmt.Errorf("%q: want a number of nodes (at least 1) or a percentage (25%%): %w", s, ErrInvalidRequest)
	}
	return Size{N: n}, nil
}

// IsZero reports whether s means "all".
func (s Size) IsZero() bool { return s.N == 0 && s.Percent == 0 }

// String writes s as ParseSize reads it.
func (s Size) String() string {
	switch {
	case s.Percent > 0:
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	case s.N > 0:
		return strconv.Itoa(s.N)
	}
	return ""
}

// Of returns how many of total nodes s means: at least 1 (of a non-empty
// set), at most total; a percentage rounds up.
func (s Size) Of(total int) int {
	switch {
	case total <= 0:
		return 0
	case s.Percent > 0:
		return min(total, max(1, int(math.Ceil(float64(total)*s.Percent/100-1e-9))))
	case s.N > 0:
		return min(total, s.N)
	}
	return total
}

// LimitMethod says which nodes a limit keeps.
type LimitMethod string

// The limit methods.
const (
	// LimitRandom keeps a random choice (the default).
	LimitRandom LimitMethod = "random"
	// LimitFirst keeps the first nodes in discovery order: with
	// broadcast discovery, those that answered first.
	LimitFirst LimitMethod = "first"
)

// Pick applies s as a limit to nodes, keeping their order: all of them
// if s is zero, else the first ones or a random choice (seeded by seed,
// or a random seed if 0). An unknown method is ErrInvalidRequest.
func (s Size) Pick(nodes []string, method LimitMethod, seed int64) ([]string, error) {
	n := s.Of(len(nodes))
	if n == len(nodes) {
		return nodes, nil
	}
	switch method {
	case LimitFirst:
		return nodes[:n], nil
	case "", LimitRandom:
	default:
		return nil, fmt.Errorf("limit method %q: want random or first: %w", method, ErrInvalidRequest)
	}
	if seed == 0 {
		seed = rand.Int64()
	}
	r := rand.New(rand.NewPCG(uint64(seed), uint64(seed)>>32|1))
	chosen := map[int]bool{}
	for _, i := range r.Perm(len(nodes))[:n] {
		chosen[i] = true
	}
	out := make([]string, 0, n)
	for i, node := range nodes {
		if chosen[i] {
			out = append(out, node)
		}
	}
	return out, nil
}

// split cuts nodes into batches of s (one batch if s is zero).
func (s Size) split(nodes []string) [][]string {
	if len(nodes) == 0 {
		return nil
	}
	size := s.Of(len(nodes))
	var out [][]string
	for len(nodes) > 0 {
		k := min(size, len(nodes))
		out = append(out, nodes[:k:k])
		nodes = nodes[k:]
	}
	return out
}
