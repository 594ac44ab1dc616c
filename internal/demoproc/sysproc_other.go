//go:build !linux

package demoproc

import "syscall"

// sysProcAttr: only Linux has a death signal.
func sysProcAttr() *syscall.SysProcAttr { return nil }
