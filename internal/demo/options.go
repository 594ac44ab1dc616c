package demo

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/middleware"
)

// Modes the -pool flag accepts.
const (
	ModeSized      = "sized"      // bodypool's size-classed pool
	ModeCalibrated = "calibrated" // bytebufferpool.Pool
	ModeSyncPool   = "syncpool"   // a naive sync.Pool of bytes.Buffer
	ModeNone       = "none"       // the same middleware, fresh memory every time
	ModeOff        = "off"        // no bodypool middleware: io.ReadAll in handlers
)

// Modes lists the pool modes in the order comparisons report them.
var Modes = []string{ModeOff, ModeNone, ModeSyncPool, ModeCalibrated, ModeSized}

// MaxBlob is the largest size GET /blob serves.
const MaxBlob = 64 << 20

// Options configures the demo server. Every field has a flag and an
// environment variable (BODYPOOL_ and the flag name in upper case, with
// dashes as underscores); flags win over the environment.
type Options struct {
	Addr        string
	Pool        string
	MaxBody     Size
	MaxBuffered Size
	Budget      Size
	MaxIdle     Size
	BudgetWait  time.Duration

	// ClassesPerDoubling sets the sized pool's
	// bufpool.Config.ClassesPerDoubling: 0 for bufpool's default.
	ClassesPerDoubling int

	// PoolIdleTimeout and FreeOSInterval set the sized pool's
	// bufpool.Config.IdleTimeout and FreeOSMemoryInterval: 0 for
	// bufpool's default, negative to turn it off.
	PoolIdleTimeout time.Duration
	FreeOSInterval  time.Duration

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	Grace             time.Duration

	H2C         bool
	LogRequests bool
	Pprof       bool
	Poison      bool
	Track       bool
}

// ErrHelp is returned by ParseOptions when -help was asked for.
var ErrHelp = flag.ErrHelp

// ParseOptions parses command-line args, with getenv supplying the
// environment. Errors name the flag or variable and the bad value. Usage
// goes to usage on -help.
func ParseOptions(args []string, getenv func(string) string, usage io.Writer) (Options, error) {
	o := Options{
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
	fs := flag.NewFlagSet("demo-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Addr, "addr", o.Addr, "listen address; port 0 picks a free port (printed at start)")
	fs.StringVar(&o.Pool, "pool", o.Pool, "body memory: "+strings.Join(Modes, ", "))
	fs.Var(&o.MaxBody, "max-body", "request body limit (413 above it), e.g. 8MiB")
	fs.Var(&o.MaxBuffered, "max-buffered", "responses up to this size are buffered, larger ones stream")
	fs.Var(&o.MaxIdle, "max-idle", "most idle memory the pool keeps across collections; more is kept weakly until the next (sized mode)")
	fs.Var(&o.Budget, "budget", "in-use budget of the pool in bytes (sized mode), 0 for none")
	fs.DurationVar(&o.BudgetWait, "budget-wait", o.BudgetWait, "how long a request waits for the budget before 503")
	fs.IntVar(&o.ClassesPerDoubling, "classes-per-doubling", 0, "size classes between a size and its double: 1, 2 or 4 (sized mode); 0 for bufpool's "+strconv.Itoa(bufpool.DefaultClassesPerDoubling))
	fs.DurationVar(&o.PoolIdleTimeout, "pool-idle-timeout", 0, "idle buffers unused this long are let go (sized mode); 0 for bufpool's "+bufpool.DefaultIdleTimeout.String()+", negative for never")
	fs.DurationVar(&o.FreeOSInterval, "free-os-interval", 0, "least time between collections the pool forces to return memory (sized mode); 0 for bufpool's "+bufpool.DefaultFreeOSMemoryInterval.String()+", negative for never")
	fs.DurationVar(&o.ReadHeaderTimeout, "read-header-timeout", o.ReadHeaderTimeout, "http.Server ReadHeaderTimeout")
	fs.DurationVar(&o.ReadTimeout, "read-timeout", o.ReadTimeout, "http.Server ReadTimeout (headers and body)")
	fs.DurationVar(&o.WriteTimeout, "write-timeout", o.WriteTimeout, "http.Server WriteTimeout")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", o.IdleTimeout, "http.Server IdleTimeout for keep-alive connections")
	fs.DurationVar(&o.Grace, "grace", o.Grace, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	fs.BoolVar(&o.H2C, "h2c", false, "also serve HTTP/2 without TLS (h2c)")
	fs.BoolVar(&o.LogRequests, "log-requests", false, "log one line per request")
	fs.BoolVar(&o.Pprof, "pprof", false, "serve /debug/pprof/")
	fs.BoolVar(&o.Poison, "poison", false, "poison released buffers (sized mode; for tests)")
	fs.BoolVar(&o.Track, "track", false, "track checked-out buffers and report leaks at exit (sized mode; for tests)")
	// The flag package calls Usage on every parse error as well as on
	// -help; usage is printed only when asked for.
	fs.Usage = func() {}
	printUsage := func() {
		fmt.Fprintf(usage, "Usage: demo-server [flags]\n\nThe bodypool demo server. Every flag can also be set by an environment\nvariable: BODYPOOL_ plus the flag name in upper case with _ for -\n(for example BODYPOOL_MAX_BODY=16MiB). Flags win.\n\n")
		fs.SetOutput(usage)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}

	var envErr error
	fromEnv := make(map[string]string) // flag name to the variable that set it
	fs.VisitAll(func(f *flag.Flag) {
		name := "BODYPOOL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("invalid value %q for environment variable %s: %v", v, name, err)
			}
			fromEnv[f.Name] = name
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage()
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { delete(fromEnv, f.Name) })
	return o, o.validate(func(name string) string {
		if v, ok := fromEnv[name]; ok {
			return "environment variable " + v
		}
		return "flag -" + name
	})
}

// validate checks the values flags cannot; source names where the value
// of a flag came from, for the error.
func (o Options) validate(source func(flag string) string) error {
	if !slices.Contains(Modes, o.Pool) {
		return fmt.Errorf("invalid value %q for %s: want one of %s", o.Pool, source("pool"), strings.Join(Modes, ", "))
	}
	if o.MaxIdle <= 0 {
		return fmt.Errorf("invalid value %q for %s: must be positive", o.MaxIdle, source("max-idle"))
	}
	if c := o.ClassesPerDoubling; c != 0 && c != 1 && c != 2 && c != 4 {
		return fmt.Errorf("invalid value \"%d\" for %s: want 1, 2 or 4, or 0 for the default", c, source("classes-per-doubling"))
	}
	if o.MaxBody <= 0 {
		return fmt.Errorf("invalid value %q for %s: must be positive", o.MaxBody, source("max-body"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"budget-wait", o.BudgetWait}, {"read-header-timeout", o.ReadHeaderTimeout}, {"read-timeout", o.ReadTimeout},
		{"write-timeout", o.WriteTimeout}, {"idle-timeout", o.IdleTimeout}, {"grace", o.Grace}} {
		if d.v < 0 {
			return fmt.Errorf("invalid value %q for %s: must not be negative", d.v, source(d.name))
		}
	}
	return nil
}
