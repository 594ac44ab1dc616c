package abtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FindRepo returns the first of dir and its parents that holds the demo
// server's source (cmd/demo-server/main.go beside a go.mod).
func FindRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "cmd", "demo-server", "main.go")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("abtest: no cmd/demo-server in this folder or above; use -server or -repo")
		}
		dir = parent
	}
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// BuildServer builds cmd/demo-server of repo into dir and returns the
// binary's path and a description of what was built (the commit, and
// whether the tree had changes).
func BuildServer(ctx context.Context, repo, dir string) (bin, desc string, err error) {
	bin = filepath.Join(dir, "demo-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/demo-server")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("abtest: go build ./cmd/demo-server in %s: %v\n%s", repo, err, out)
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
