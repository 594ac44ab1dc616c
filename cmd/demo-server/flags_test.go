package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// run runs the server binary to completion with args and extra
// environment, bounded in time, and returns its exit status and output.
func run(t *testing.T, args []string, env ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBin(t), args...)
	cmd.Env = demoproc.Environ(env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s: %v", cmd, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not exit within %s", cmd, startTimeout)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string // in the one line on stderr
	}{
		{"unknown pool", []string{"-pool", "bogus"}, nil, `invalid value "bogus" for flag -pool`},
		{"bad size", []string{"-max-body", "12XB"}, nil, `invalid value "12XB" for flag -max-body`},
		{"negative duration", []string{"-read-timeout", "-1s"}, nil, `invalid value "-1s" for flag -read-timeout`},
		{"bad environment", nil, []string{"BODYPOOL_MAX_BODY=bad"}, `invalid value "bad" for environment variable BODYPOOL_MAX_BODY`},
		{"negative duration in the environment", nil, []string{"BODYPOOL_GRACE=-1s"}, `environment variable BODYPOOL_GRACE`},
		{"unknown flag", []string{"-nosuch"}, nil, "-nosuch"},
		{"extra argument", []string{"-pool", "none", "serve"}, nil, `unexpected argument "serve"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tc.args, tc.env...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.HasPrefix(stderr, "demo-server: ") || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr %q, want one line mentioning %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := run(t, []string{"-addr", ln.Addr().String()})
	if code != 1 || !strings.Contains(stderr, ln.Addr().String()) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("listening on a taken address: exit status %d, stderr %q; want 1 and one line naming the address", code, stderr)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, []string{"-help"})
	if code != 0 || stderr != "" {
		t.Errorf("-help: exit status %d, stderr %q; want 0 and nothing", code, stderr)
	}
	if strings.Count(stdout, "Usage: demo-server") != 1 || !strings.Contains(stdout, "BODYPOOL_") || !strings.Contains(stdout, "-max-body") {
		t.Errorf("-help: stdout does not show the usage once, with BODYPOOL_ variables:\n%s", stdout)
	}
}
