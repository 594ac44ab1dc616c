package demoproc

import "syscall"

// sysProcAttr puts the server in a process group of its own, so that a
// Ctrl-C in the terminal reaches only its parent, which then stops it; and
// has the kernel kill it when the parent dies first (a panic, a timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
