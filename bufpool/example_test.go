package bufpool_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bodypool/bodypool/bufpool"
)

func ExampleNew() {
	p, err := bufpool.New(bufpool.Config{
		MinSize:            1 << 10,
		MaxSize:            1 << 20,
		ClassesPerDoubling: 2,
		MaxIdleBytes:       32 << 20,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("smallest classes:", p.ClassSizes()[:5])
	fmt.Println("a 1500-byte request takes", p.ClassSize(1500), "bytes")
	fmt.Println("a 2 MiB request is exact:", p.ClassSize(2<<20) == 2<<20)

	_, err = bufpool.New(bufpool.Config{ClassesPerDoubling: 3})
	fmt.Println(err)
	fmt.Println(errors.Is(err, bufpool.ErrInvalidConfig))
	// Output:
	// smallest classes: [1024 1536 2048 3072 4096]
	// a 1500-byte request takes 1536 bytes
	// a 2 MiB request is exact: true
	// bufpool: invalid config: ClassesPerDoubling 3 is not 1, 2 or 4
	// true
}

func ExamplePool_Get() {
	p, _ := bufpool.New(bufpool.Config{})
	buf := p.Get(3000)
	defer buf.Release() // the buffer, and every slice of buf.B, is dead after this

	fmt.Println(buf.Len(), cap(buf.B))
	buf.WriteString("hello, ")
	buf.WriteString("world")
	fmt.Println(buf.String())
	// Output:
	// 0 3072
	// hello, world
}

func ExampleGet() {
	buf := bufpool.Get(64 << 10) // from the default pool
	defer buf.Release()
	fmt.Fprintf(buf, "%d bytes of room", cap(buf.B))
	fmt.Println(buf.String())
	// Output:
	// 65536 bytes of room
}

func ExampleDefault() {
	cfg := bufpool.Default().Config()
	fmt.Println(cfg.MinSize, cfg.MaxSize, cfg.ClassesPerDoubling, cfg.MaxIdleBytes>>20, cfg.MaxInUseBytes)
	// Output:
	// 512 4194304 4 8 0
}

func ExampleBuffer_ReadFromLimit() {
	buf := bufpool.Get(0)
	defer buf.Release()

	// A body of 11 bytes against a limit of 10: at most limit+1 bytes are
	// read, however large the body.
	n, err := buf.ReadFromLimit(strings.NewReader("hello world"), 10)
	fmt.Println(n, errors.Is(err, bufpool.ErrTooLarge))

	buf.Reset()
	n, err = buf.ReadFromLimit(strings.NewReader("hello"), 10)
	fmt.Println(n, err, buf.String())
	// Output:
	// 11 true
	// 5 <nil> hello
}

func ExamplePool_Acquire() {
	p, _ := bufpool.New(bufpool.Config{MaxInUseBytes: 64 << 10})

	first, _ := p.Acquire(context.Background(), 48<<10)
	fmt.Println("budget used:", p.Stats().BudgetUsedBytes)

	// The budget has no room for 32 KiB more: this waits until first is
	// released, or until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := p.Acquire(ctx, 32<<10)
	fmt.Println(errors.Is(err, bufpool.ErrBudgetExceeded), errors.Is(err, context.DeadlineExceeded))

	// Growing a buffer from Acquire must fit the budget as well.
	_, err = first.Write(make([]byte, 60<<10))
	fmt.Println(errors.Is(err, bufpool.ErrBudgetExceeded), first.Len())

	first.Release()
	second, err := p.Acquire(context.Background(), 32<<10)
	fmt.Println(err, cap(second.B))
	second.Release()
	st := p.Stats()
	fmt.Println("budget used:", st.BudgetUsedBytes, "rejections:", st.BudgetRejections)
	// Output:
	// budget used: 49152
	// true true
	// true 0
	// <nil> 32768
	// budget used: 0 rejections: 1
}

func ExampleBuffer_Detach() {
	buf := bufpool.Get(100)
	buf.WriteString("kept after the handler returns")
	body := buf.Detach() // the pool forgets this memory: body is ours for good
	fmt.Println(string(body))
	// Output:
	// kept after the handler returns
}

func ExamplePool_Stats() {
	p, _ := bufpool.New(bufpool.Config{})
	for range 3 {
		buf := p.Get(4096)
		buf.WriteString("request body")
		buf.Release()
	}
	held := p.Get(10 << 20) // beyond MaxSize: allocated exactly, never kept

	st := p.Stats()
	fmt.Println("gets:", st.Total.Gets, "releases:", st.Total.Releases, "in use:", st.Total.InUse)
	fmt.Println("oversize gets:", st.Oversize.Gets, "in use bytes:", st.Total.InUseBytes)
	held.Release()
	st = p.Stats()
	fmt.Println("oversize drops:", st.Total.Drops.Oversize, "in use:", st.Total.InUse)
	// Output:
	// gets: 4 releases: 3 in use: 1
	// oversize gets: 1 in use bytes: 10485760
	// oversize drops: 1 in use: 0
}

func ExamplePool_Prefill() {
	p, _ := bufpool.New(bufpool.Config{})
	// Start warm: 8 idle buffers of the 64 KiB class.
	fmt.Println(p.Prefill(64<<10, 8))
	fmt.Println(p.Stats().Total.Prefilled)
	// Classes beyond MaxSize are never kept.
	fmt.Println(p.Prefill(8<<20, 8))
	// Output:
	// 8
	// 8
	// 0
}

func ExamplePool_CheckLeaks() {
	p, _ := bufpool.New(bufpool.Config{Track: true})
	buf := p.Get(1000)

	err := p.CheckLeaks() // a test calls this when it ends
	fmt.Println(errors.Is(err, bufpool.ErrLeaked), len(p.Outstanding()))

	buf.Release()
	fmt.Println(p.CheckLeaks())
	// Output:
	// true 1
	// <nil>
}

func ExampleObjectPool() {
	builders := &bufpool.ObjectPool[*strings.Builder]{
		New:     func() *strings.Builder { return new(strings.Builder) },
		Reset:   (*strings.Builder).Reset,
		MaxIdle: 2,
	}
	b := builders.Get()
	b.WriteString("per-request state")
	builders.Put(b) // Reset runs before b is kept

	again := builders.Get()
	fmt.Printf("%q\n", again.String())
	builders.Put(again)

	st := builders.Stats()
	fmt.Println("gets:", st.Gets, "hits:", st.Hits, "misses:", st.Misses, "idle:", st.Idle)
	// Output:
	// ""
	// gets: 2 hits: 1 misses: 1 idle: 1
}

func ExampleConfig() {
	// Idle buffers unused for 30 s are let go; the pool never forces a
	// collection to return memory to the operating system, leaving that
	// to the runtime's own pace.
	p, _ := bufpool.New(bufpool.Config{IdleTimeout: 30 * time.Second, FreeOSMemoryInterval: -1})
	cfg := p.Config()
	fmt.Println(cfg.IdleTimeout, cfg.FreeOSMemoryInterval)

	// The defaults: idle buffers let go after 4 s unused, and memory let
	// go returned to the operating system at most every 2 s.
	d := bufpool.Default().Config()
	fmt.Println(d.IdleTimeout, d.FreeOSMemoryInterval)
	// Output:
	// 30s -1ns
	// 4s 2s
}
