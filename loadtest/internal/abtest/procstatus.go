package abtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// procStatus holds the memory figures of /proc/PID/status, in bytes.
type procStatus struct {
	PeakRSS int64 // VmHWM: the most resident memory the process ever had
	RSS     int64 // VmRSS: resident memory now
}

// parseProcStatus reads VmHWM and VmRSS from the text of /proc/PID/status.
func parseProcStatus(r io.Reader) (procStatus, error) {
	var st procStatus
	var seen int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmHWM":
			dst = &st.PeakRSS
		case "VmRSS":
			dst = &st.RSS
		default:
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(val), " ")
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || unit != "kB" {
			return st, fmt.Errorf("abtest: unexpected %s line %q in process status", key, sc.Text())
		}
		*dst = n << 10 // the kernel's kB are KiB
		seen++
	}
	if err := sc.Err(); err != nil {
		return st, err
	}
	if seen < 2 {
		return st, fmt.Errorf("abtest: no VmHWM and VmRSS in process status")
	}
	return st, nil
}

// readProcStatus reads the memory figures of process pid (Linux only).
func readProcStatus(pid int) (procStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	defer f.Close()
	return parseProcStatus(f)
}

// LoadAverage returns the first three fields of /proc/loadavg (the 1, 5
// and 15 minute load averages), or "unknown".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
