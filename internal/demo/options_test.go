package demo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/middleware"
)

// env returns a getenv over vars, given as NAME=value.
func env(vars ...string) func(string) string {
	m := make(map[string]string)
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

var defaultOptions = Options{
	Addr:              "127.0.0.1:8080",
	Pool:              ModeSized,
	MaxBody:           middleware.DefaultMaxRequestBody,
	MaxBuffered:       middleware.DefaultMaxBufferedResponse,
	MaxIdle:           bufpool.DefaultMaxIdleBytes,
	BudgetWait:        middleware.DefaultBudgetWait,
	ReadHeaderTimeout: 5 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      60 * time.Second,
	IdleTimeout:       60 * time.Second,
	Grace:             10 * time.Second,
}

func TestParseOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want func(o *Options) // applied to the defaults
	}{
		{"defaults", nil, nil, func(*Options) {}},
		{"addr", []string{"-addr", "127.0.0.1:0"}, nil, func(o *Options) { o.Addr = "127.0.0.1:0" }},
		{"pool sized", []string{"-pool", "sized"}, nil, func(o *Options) { o.Pool = ModeSized }},
		{"pool calibrated", []string{"-pool", "calibrated"}, nil, func(o *Options) { o.Pool = ModeCalibrated }},
		{"pool syncpool", []string{"-pool=syncpool"}, nil, func(o *Options) { o.Pool = ModeSyncPool }},
		{"pool none", []string{"--pool", "none"}, nil, func(o *Options) { o.Pool = ModeNone }},
		{"pool off", []string{"-pool", "off"}, nil, func(o *Options) { o.Pool = ModeOff }},
		{"max-body", []string{"-max-body", "16MiB"}, nil, func(o *Options) { o.MaxBody = 16 << 20 }},
		{"max-buffered", []string{"-max-buffered", "64KiB"}, nil, func(o *Options) { o.MaxBuffered = 64 << 10 }},
		{"max-buffered zero", []string{"-max-buffered", "0"}, nil, func(o *Options) { o.MaxBuffered = 0 }},
		{"budget", []string{"-budget", "1.5MB"}, nil, func(o *Options) { o.Budget = 1_500_000 }},
		{"budget-wait", []string{"-budget-wait", "50ms"}, nil, func(o *Options) { o.BudgetWait = 50 * time.Millisecond }},
		{"budget-wait zero", []string{"-budget-wait", "0"}, nil, func(o *Options) { o.BudgetWait = 0 }},
		{"classes-per-doubling", []string{"-classes-per-doubling", "1"}, nil, func(o *Options) { o.ClassesPerDoubling = 1 }},
		{"env classes-per-doubling", nil, []string{"BODYPOOL_CLASSES_PER_DOUBLING=2"}, func(o *Options) { o.ClassesPerDoubling = 2 }},
		{"pool-idle-timeout", []string{"-pool-idle-timeout", "500ms"}, nil, func(o *Options) { o.PoolIdleTimeout = 500 * time.Millisecond }},
		{"pool-idle-timeout off", []string{"-pool-idle-timeout", "-1s"}, nil, func(o *Options) { o.PoolIdleTimeout = -time.Second }},
		{"free-os-interval", []string{"-free-os-interval", "10s"}, nil, func(o *Options) { o.FreeOSInterval = 10 * time.Second }},
		{"free-os-interval off", []string{"-free-os-interval=-1ns"}, nil, func(o *Options) { o.FreeOSInterval = -1 }},
		{"read-header-timeout", []string{"-read-header-timeout", "1s"}, nil, func(o *Options) { o.ReadHeaderTimeout = time.Second }},
		{"read-timeout", []string{"-read-timeout", "2s"}, nil, func(o *Options) { o.ReadTimeout = 2 * time.Second }},
		{"write-timeout", []string{"-write-timeout", "3s"}, nil, func(o *Options) { o.WriteTimeout = 3 * time.Second }},
		{"idle-timeout", []string{"-idle-timeout", "4s"}, nil, func(o *Options) { o.IdleTimeout = 4 * time.Second }},
		{"grace", []string{"-grace", "5s"}, nil, func(o *Options) { o.Grace = 5 * time.Second }},
		{"h2c", []string{"-h2c"}, nil, func(o *Options) { o.H2C = true }},
		{"log-requests", []string{"-log-requests"}, nil, func(o *Options) { o.LogRequests = true }},
		{"pprof", []string{"-pprof"}, nil, func(o *Options) { o.Pprof = true }},
		{"poison", []string{"-poison"}, nil, func(o *Options) { o.Poison = true }},
		{"track", []string{"-track=true"}, nil, func(o *Options) { o.Track = true }},
		{"all", []string{"-addr", ":0", "-pool", "none", "-max-body", "1KiB", "-h2c", "-pprof", "-grace", "0"}, nil, func(o *Options) {
			o.Addr, o.Pool, o.MaxBody, o.H2C, o.Pprof, o.Grace = ":0", ModeNone, 1024, true, true, 0
		}},

		{"env max-body", nil, []string{"BODYPOOL_MAX_BODY=16MiB"}, func(o *Options) { o.MaxBody = 16 << 20 }},
		{"env pool", nil, []string{"BODYPOOL_POOL=off"}, func(o *Options) { o.Pool = ModeOff }},
		{"env budget-wait", nil, []string{"BODYPOOL_BUDGET_WAIT=1s"}, func(o *Options) { o.BudgetWait = time.Second }},
		{"env pool timeouts", nil, []string{"BODYPOOL_POOL_IDLE_TIMEOUT=1m", "BODYPOOL_FREE_OS_INTERVAL=-1s"}, func(o *Options) { o.PoolIdleTimeout, o.FreeOSInterval = time.Minute, -time.Second }},
		{"env read-header-timeout", nil, []string{"BODYPOOL_READ_HEADER_TIMEOUT=7s"}, func(o *Options) { o.ReadHeaderTimeout = 7 * time.Second }},
		{"env bools", nil, []string{"BODYPOOL_H2C=true", "BODYPOOL_PPROF=1", "BODYPOOL_TRACK=false"}, func(o *Options) { o.H2C, o.Pprof = true, true }},
		{"env empty is unset", nil, []string{"BODYPOOL_MAX_BODY=", "BODYPOOL_POOL="}, func(*Options) {}},
		{"flag wins over env", []string{"-max-body", "2MiB", "-pool", "none"}, []string{"BODYPOOL_MAX_BODY=16MiB", "BODYPOOL_POOL=calibrated", "BODYPOOL_GRACE=1s"},
			func(o *Options) { o.MaxBody, o.Pool, o.Grace = 2<<20, ModeNone, time.Second }},
		{"flag fixes a bad env value", []string{"-pool", "none", "-read-timeout", "1s"}, []string{"BODYPOOL_POOL=bogus", "BODYPOOL_READ_TIMEOUT=-1s"},
			func(o *Options) { o.Pool, o.ReadTimeout = ModeNone, time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var usage strings.Builder
			got, err := ParseOptions(tc.args, env(tc.env...), &usage)
			if err != nil {
				t.Fatalf("ParseOptions(%q, %q): %v", tc.args, tc.env, err)
			}
			want := defaultOptions
			tc.want(&want)
			if got != want {
				t.Errorf("ParseOptions(%q, %q)\n got %+v\nwant %+v", tc.args, tc.env, got, want)
			}
			if usage.Len() != 0 {
				t.Errorf("usage written without -help: %q", usage.String())
			}
		})
	}
}

func TestParseOptionsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want []string // substrings of the error
	}{
		{"unknown pool mode", []string{"-pool", "bogus"}, nil, []string{"flag -pool", `"bogus"`, "sized", "calibrated", "syncpool", "none", "off"}},
		{"bad size", []string{"-max-body", "12XB"}, nil, []string{"flag -max-body", `"12XB"`}},
		{"zero max-body", []string{"-max-body", "0"}, nil, []string{"flag -max-body", "positive"}},
		{"negative max-body", []string{"-max-body", "-1"}, nil, []string{"flag -max-body", `"-1"`}},
		{"bad max-buffered", []string{"-max-buffered", "1.5"}, nil, []string{"flag -max-buffered", `"1.5"`}},
		{"bad budget", []string{"-budget", "lots"}, nil, []string{"flag -budget", `"lots"`}},
		{"bad duration", []string{"-budget-wait", "soon"}, nil, []string{"flag -budget-wait", `"soon"`}},
		{"duration without a unit", []string{"-pool-idle-timeout", "-1"}, nil, []string{"flag -pool-idle-timeout", `"-1"`}},
		{"classes-per-doubling 3", []string{"-classes-per-doubling", "3"}, nil, []string{"flag -classes-per-doubling", `"3"`, "1, 2 or 4"}},
		{"env classes-per-doubling 8", nil, []string{"BODYPOOL_CLASSES_PER_DOUBLING=8"}, []string{"environment variable BODYPOOL_CLASSES_PER_DOUBLING", `"8"`}},
		{"bad free-os-interval", []string{"-free-os-interval", "often"}, nil, []string{"flag -free-os-interval", `"often"`}},
		{"negative budget-wait", []string{"-budget-wait", "-1ms"}, nil, []string{"flag -budget-wait", `"-1ms"`, "negative"}},
		{"negative read-header-timeout", []string{"-read-header-timeout", "-1s"}, nil, []string{"flag -read-header-timeout", `"-1s"`}},
		{"negative read-timeout", []string{"-read-timeout", "-1s"}, nil, []string{"flag -read-timeout", `"-1s"`}},
		{"negative write-timeout", []string{"-write-timeout", "-1s"}, nil, []string{"flag -write-timeout"}},
		{"negative idle-timeout", []string{"-idle-timeout", "-1s"}, nil, []string{"flag -idle-timeout"}},
		{"negative grace", []string{"-grace", "-1s"}, nil, []string{"flag -grace"}},
		{"bad bool", []string{"-h2c=maybe"}, nil, []string{"-h2c", "maybe"}},
		{"missing value", []string{"-addr"}, nil, []string{"-addr"}},
		{"unknown flag", []string{"-nosuch"}, nil, []string{"-nosuch"}},
		{"extra argument", []string{"-pool", "none", "extra"}, nil, []string{`unexpected argument "extra"`}},

		{"env bad size", nil, []string{"BODYPOOL_MAX_BODY=bad"}, []string{"environment variable BODYPOOL_MAX_BODY", `"bad"`}},
		{"env bad duration", nil, []string{"BODYPOOL_GRACE=later"}, []string{"environment variable BODYPOOL_GRACE", `"later"`}},
		{"env bad bool", nil, []string{"BODYPOOL_PPROF=maybe"}, []string{"environment variable BODYPOOL_PPROF"}},
		{"env unknown pool mode", nil, []string{"BODYPOOL_POOL=bogus"}, []string{"environment variable BODYPOOL_POOL", `"bogus"`}},
		{"env negative duration", nil, []string{"BODYPOOL_READ_TIMEOUT=-1s"}, []string{"environment variable BODYPOOL_READ_TIMEOUT", `"-1s"`}},
		{"env zero max-body", nil, []string{"BODYPOOL_MAX_BODY=0"}, []string{"environment variable BODYPOOL_MAX_BODY"}},
		{"flag over env names the flag", []string{"-read-timeout", "-2s"}, []string{"BODYPOOL_READ_TIMEOUT=-1s"}, []string{"flag -read-timeout", `"-2s"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var usage strings.Builder
			_, err := ParseOptions(tc.args, env(tc.env...), &usage)
			if err == nil {
				t.Fatalf("ParseOptions(%q, %q) succeeded, want an error", tc.args, tc.env)
			}
			if errors.Is(err, ErrHelp) {
				t.Fatalf("ParseOptions(%q, %q) = ErrHelp", tc.args, tc.env)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
			if usage.Len() != 0 {
				t.Errorf("usage written on an error: %q", usage.String())
			}
		})
	}
}

func TestParseOptionsHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-help", "-h", "--help"} {
		t.Run(arg, func(t *testing.T) {
			t.Parallel()
			var usage strings.Builder
			_, err := ParseOptions([]string{"-pool", "none", arg}, env(), &usage)
			if !errors.Is(err, ErrHelp) {
				t.Fatalf("ParseOptions(%s) error %v, want ErrHelp", arg, err)
			}
			u := usage.String()
			if n := strings.Count(u, "Usage: demo-server"); n != 1 {
				t.Errorf("usage printed %d times, want once:\n%s", n, u)
			}
			for _, w := range []string{"BODYPOOL_", "BODYPOOL_MAX_BODY", "-max-body", "-pool", "-budget-wait", "-grace", "-track", "-pool-idle-timeout", "-free-os-interval", "(default 8MiB)"} {
				if !strings.Contains(u, w) {
					t.Errorf("usage does not mention %q:\n%s", w, u)
				}
			}
		})
	}
}
