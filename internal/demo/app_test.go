package demo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCompareIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		x, y any
		want int
	}{
		{1.0, 2.0, -1},
		{2.0, 1.0, 1},
		{-3.5, -3.5, 0},
		{"a", "b", -1},
		{"b", "a", 1},
		{"", "", 0},
		{1e9, "0", -1}, // numbers before strings
		{"0", 1e9, 1},
		{"z", nil, -1}, // strings before anything else
		{nil, "z", 1},
		{7.0, nil, -1},
		{nil, nil, 0},
		{true, nil, 0}, // the rest are equal to each other
		{map[string]any{}, []any{}, 0},
		{false, 1.0, 1},
	} {
		if got := compareIDs(tc.x, tc.y); got != tc.want {
			t.Errorf("compareIDs(%#v, %#v) = %d, want %d", tc.x, tc.y, got, tc.want)
		}
	}
}

// TestCompareIDsOrder checks that compareIDs is a strict weak order over
// every kind of value JSON decodes to, as slices.SortStableFunc needs.
func TestCompareIDsOrder(t *testing.T) {
	t.Parallel()
	vals := []any{nil, true, false, -1.0, 0.0, 2.5, 2.5, "", "a", "b", "a", []any{1.0}, map[string]any{"k": "v"}}
	for _, x := range vals {
		if compareIDs(x, x) != 0 {
			t.Errorf("compareIDs(%#v, itself) != 0", x)
		}
		for _, y := range vals {
			if a, b := compareIDs(x, y), compareIDs(y, x); a != -b {
				t.Errorf("compareIDs(%#v, %#v) = %d but compareIDs(%#v, %#v) = %d", x, y, a, y, x, b)
			}
			for _, z := range vals {
				if compareIDs(x, y) < 0 && compareIDs(y, z) < 0 && compareIDs(x, z) >= 0 {
					t.Errorf("not transitive: %#v < %#v < %#v but not %#v < %#v", x, y, z, x, z)
				}
			}
		}
	}
}

// newTestApp builds the application for mode with the default options and,
// in the sized mode, a tracking, poisoning pool whose leaks fail t.
func newTestApp(t *testing.T, mode string) *App {
	t.Helper()
	o, err := ParseOptions([]string{"-pool", mode, "-track", "-poison"}, env(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewApp(o)
	if err != nil {
		t.Fatalf("NewApp(%+v): %v", o, err)
	}
	t.Cleanup(func() {
		if err := a.CheckLeaks(time.Second); err != nil {
			t.Error(err)
		}
	})
	return a
}

func TestJSON(t *testing.T) {
	t.Parallel()
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newTestApp(t, mode)
			for _, tc := range []struct {
				body   string
				status int
				want   string // JSON, compared decoded
			}{
				{`[{"id":3,"v":"c"},{"id":"b"},{"id":1},{"x":true},{"id":"a"},{"id":1,"dup":true}]`, http.StatusOK,
					`[{"id":1,"index":2,"processed":true},{"id":1,"dup":true,"index":5,"processed":true},{"id":3,"v":"c","index":0,"processed":true},
					  {"id":"a","index":4,"processed":true},{"id":"b","index":1,"processed":true},{"x":true,"index":3,"processed":true}]`},
				{`[]`, http.StatusOK, `[]`},
				{` [ {} ] `, http.StatusOK, `[{"index":0,"processed":true}]`},
				{`[{"id":1}`, http.StatusBadRequest, ""},
				{`not json`, http.StatusBadRequest, ""},
				{``, http.StatusBadRequest, ""},
				{`{"id":1}`, http.StatusBadRequest, ""},
				{`[1,2]`, http.StatusBadRequest, ""},
				{`[{"id":1},null]`, http.StatusBadRequest, ""},
				{`"[]"`, http.StatusBadRequest, ""},
				{`null`, http.StatusBadRequest, ""},
			} {
				req := httptest.NewRequest(http.MethodPost, "/json", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				a.Echo.ServeHTTP(rec, req)
				if rec.Code != tc.status {
					t.Errorf("POST /json %s: status %d, want %d; body %q", tc.body, rec.Code, tc.status, rec.Body)
					continue
				}
				if tc.status != http.StatusOK {
					continue
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("POST /json %s: Content-Type %q", tc.body, ct)
				}
				var got, want any
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Errorf("POST /json %s: response %q: %v", tc.body, rec.Body, err)
					continue
				}
				if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("POST /json %s:\n got %s\nwant %s", tc.body, rec.Body, tc.want)
				}
			}
		})
	}
}
