package bufpool

// defaultPool is the pool behind the package-level functions. It is the
// only package-level state: created once with the zero Config, never
// replaced.
var defaultPool = mustNew(Config{})

func mustNew(cfg Config) *Pool {
	p, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// Default returns the package's default pool, made with the zero Config:
// classes from 512 B to 4 MiB, four per doubling, at most 8 MiB idle kept
// strongly (more kept weakly until the next collection), idle buffers let
// go after 4 s unused, and no in-use budget. It is shared by every user of
// the package in a process.
func Default() *Pool { return defaultPool }

// Get returns a buffer of at least n bytes from the default pool. Release
// returns it there.
func Get(n int) *Buffer { return defaultPool.Get(n) }
