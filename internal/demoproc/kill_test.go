package demoproc

import "syscall"

var syscallKill = syscall.SIGKILL
