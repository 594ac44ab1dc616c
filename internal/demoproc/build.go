package demoproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/goleak"
)

// modulePath is the module whose cmd/demo-server is built.
const modulePath = "github.com/bodypool/bodypool"

// goCommand returns the go command of the toolchain that built the caller,
// else the first one on PATH.
func goCommand() string {
	//lint:ignore SA1019 the toolchain that built this binary, not whichever go is first on PATH
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gocmd); err != nil {
		return "go"
	}
	return gocmd
}

// Repo returns the folder of the bodypool module as the go command sees it
// from the working folder: the checkout itself, or the target of the
// replace directive of a module that requires it (the loadtest module).
func Repo(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, goCommand(), "list", "-m", "-f", "{{.Dir}}", modulePath).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		return "", fmt.Errorf("demoproc: no %s module seen from here (%v); run inside the checkout", modulePath, err)
	}
	return dir, nil
}

// Build builds cmd/demo-server of the bodypool checkout repo into dir and
// returns the binary's path and a description of what was built: the
// commit, and whether the tree had changes. With race the binary has the
// race detector.
func Build(ctx context.Context, repo, dir string, race bool) (bin, desc string, err error) {
	bin = filepath.Join(dir, "demo-server")
	cmd := exec.CommandContext(ctx, goCommand(), "build", "-race="+strconv.FormatBool(race), "-o", bin, "./cmd/demo-server")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("demoproc: go %s in %s: %v\n%s", strings.Join(cmd.Args[1:], " "), repo, err, out)
	}
	desc = "go build ./cmd/demo-server in " + repo
	if rev, err := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--short", "HEAD").Output(); err == nil {
		desc += " at " + strings.TrimSpace(string(rev))
		if st, err := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			desc += " with uncommitted changes"
		}
	}
	return bin, desc, nil
}

// built is the binary Binary builds once per process.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// Binary returns the demo server built for this process: built on first
// use, with the race detector when this binary has it, into a temporary
// folder that [Main] removes. Safe for concurrent use.
func Binary() (string, error) {
	built.once.Do(func() {
		ctx := context.Background()
		repo, err := Repo(ctx)
		if err != nil {
			built.err = err
			return
		}
		if built.dir, err = os.MkdirTemp("", "bodypool-demo-server-"); err != nil {
			built.err = err
			return
		}
		built.bin, _, built.err = Build(ctx, repo, built.dir, raceEnabled())
	})
	return built.bin, built.err
}

// Main runs the tests of m, fails them if goroutines leak (goleak), removes
// what [Binary] built, and exits. A test package that starts the server
// calls it from TestMain.
func Main(m goleak.TestingM) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if built.dir != "" {
			os.RemoveAll(built.dir)
		}
		os.Exit(code)
	}))
}

// raceEnabled reports whether this binary has the race detector, so that
// the server Binary builds has it too.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	return ok && slices.Contains(bi.Settings, debug.BuildSetting{Key: "-race", Value: "true"})
}
