// Package promtext reads the samples of a Prometheus text exposition, as
// served on /metrics, without the client library: enough for a load
// harness to take counters before and after a run.
package promtext

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Sample is one line of the exposition: a metric name, its labels as
// written between the braces (empty when there are none), and the value.
type Sample struct {
	Name   string
	Labels string
	Value  float64
}

// Samples is a parsed exposition, in the order of its lines.
type Samples []Sample

// ErrMissing is returned by Value when no sample has the name.
var ErrMissing = errors.New("promtext: no such metric")

// Parse reads an exposition in the Prometheus text format. Comment lines
// (# HELP, # TYPE) and blank lines are skipped; an optional timestamp after
// the value is ignored. The error names the line that does not parse.
func Parse(r io.Reader) (Samples, error) {
	var out Samples
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		s, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("promtext: line %d: %w", line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseLine(text string) (Sample, error) {
	var s Sample
	end := strings.IndexAny(text, "{ \t")
	if end <= 0 {
		return s, fmt.Errorf("no value in %q", text)
	}
	s.Name = text[:end]
	rest := text[end:]
	if rest[0] == '{' {
		closing, err := labelsEnd(rest)
		if err != nil {
			return s, fmt.Errorf("%w in %q", err, text)
		}
		s.Labels = rest[1:closing]
		rest = rest[closing+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 || len(fields) > 2 {
		return s, fmt.Errorf("want a value and at most a timestamp after the name in %q", text)
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, fmt.Errorf("bad value %q: %w", fields[0], err)
	}
	s.Value = v
	return s, nil
}

// labelsEnd returns the index of the brace that closes the label set that
// starts at s[0], skipping braces inside quoted label values.
func labelsEnd(s string) (int, error) {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // the escaped character, quote or backslash
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i, nil
		}
	}
	return 0, errors.New("unterminated label set")
}

func parseValue(f string) (float64, error) {
	switch f {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(f, 64)
}

// Value returns the value of the first sample named name, whatever its
// labels, or ErrMissing.
func (ss Samples) Value(name string) (float64, error) {
	for _, s := range ss {
		if s.Name == name {
			return s.Value, nil
		}
	}
	return 0, fmt.Errorf("%w: %s", ErrMissing, name)
}

// Sum adds the values of every sample named name, over all label sets, and
// reports whether there was any. Summing a counter over its labels gives
// its total.
func (ss Samples) Sum(name string) (float64, bool) {
	var sum float64
	found := false
	for _, s := range ss {
		if s.Name == name {
			sum += s.Value
			found = true
		}
	}
	return sum, found
}
