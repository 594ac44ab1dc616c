package abtest

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bodypool/bodypool/internal/demo"
)

// ServerArgs returns the demo-server flags of mode: a pool mode of
// demo.Modes, optionally followed by server flags, each as /name=value.
// "sized/max-idle=32MiB" is the sized pool with -max-idle=32MiB. Variants
// of one pool run side by side in the same rounds like any two modes, so
// that a setting is compared on the same machine at the same time; the
// report names them in full. The flags are checked as the server checks
// them, so that a typo fails before the first run rather than in it.
func ServerArgs(mode string) ([]string, error) {
	pool, rest, variant := strings.Cut(mode, "/")
	if !slices.Contains(demo.Modes, pool) {
		return nil, fmt.Errorf("abtest: mode %q: unknown pool %q: want one of %s, optionally followed by /flag=value", mode, pool, strings.Join(demo.Modes, ", "))
	}
	args := []string{"-pool", pool}
	if variant {
		for _, f := range strings.Split(rest, "/") {
			name, value, ok := strings.Cut(f, "=")
			switch {
			case !ok || name == "" || strings.HasPrefix(name, "-"):
				return nil, fmt.Errorf("abtest: mode %q: %q is not name=value", mode, f)
			case name == "pool" || name == "addr":
				return nil, fmt.Errorf("abtest: mode %q: the harness sets -%s", mode, name)
			}
			args = append(args, "-"+name+"="+value)
		}
	}
	if _, err := demo.ParseOptions(args, func(string) string { return "" }, io.Discard); err != nil {
		return nil, fmt.Errorf("abtest: mode %q: %w", mode, err)
	}
	return args, nil
}

// poolOf returns the pool mode a mode runs: its name up to the first /.
func poolOf(mode string) string {
	pool, _, _ := strings.Cut(mode, "/")
	return pool
}

// fileName returns mode as a file-name part: its / become _.
func fileName(mode string) string { return strings.ReplaceAll(mode, "/", "_") }
