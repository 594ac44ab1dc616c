package abtest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindRepo(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	deep := filepath.Join(root, "loadtest", "cmd", "abtest")
	for _, dir := range []string{deep, filepath.Join(root, "cmd", "demo-server")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A nested module's go.mod must not stop the search.
	for _, f := range []string{"go.mod", "loadtest/go.mod", "cmd/demo-server/main.go"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, start := range []string{root, deep, filepath.Join(root, "loadtest")} {
		if got, err := FindRepo(start); err != nil || got != root {
			t.Errorf("FindRepo(%s) = %q, %v; want %q", start, got, err, root)
		}
	}
	if got, err := FindRepo(t.TempDir()); err == nil {
		t.Errorf("FindRepo of an empty folder = %q, want an error", got)
	}
}
