// Package poolbench compares bufpool with the byte-buffer pools Go servers
// use today, on the workloads of bufpool's own benchmarks: one size of
// 4 KiB, one of 256 KiB, and a log-uniform mix from 512 B to 4 MiB. Each
// operation takes memory for n bytes, sets the length to n, writes a byte
// and gives the memory back. Besides time and allocations per operation,
// every benchmark reports retained-B: the heap in use after one garbage
// collection at its end, less the heap in use before it started, which is
// what the pool keeps.
//
// It holds only benchmarks, in a module of its own so that bufpool's users
// never download the contenders:
//
//	cd loadtest && go test -run '^$' -bench . -benchtime 200ms ./poolbench
//
// results.txt holds one run, with the command at its top.
package poolbench
