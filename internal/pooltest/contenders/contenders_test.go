package contenders

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestContenders runs every common contender over the first sizes of
// every workload, which must lie within 512 B and the workload's largest:
// a step that got memory shorter than asked for panics on its write of
// byte n-1.
func TestContenders(t *testing.T) {
	t.Parallel()
	for _, w := range Workloads {
		for _, n := range w.Sizes {
			if n < 512 || n > w.Largest {
				t.Fatalf("%s: size %d outside [512, %d]", w.Name, n, w.Largest)
			}
		}
		for _, c := range Common {
			step := c.Make(w.Largest)
			for _, n := range w.Sizes[:min(len(w.Sizes), 64)] {
				step(n)
			}
		}
	}
}
