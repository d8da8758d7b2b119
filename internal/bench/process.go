package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's largest resident set so far, in bytes (Linux reports KiB).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}

// currentRSS is the process's resident set now, from /proc/self/status (0 where there is none).
func currentRSS() int64 { return procStatusBytes("VmRSS:") }

// procStatusBytes is one "<field> N kB" line of /proc/self/status in bytes (0 where there is none).
func procStatusBytes(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

func mib(b int64) float64 { return float64(b*10/(1<<20)) / 10 }

// MemoryBreakdown is where a process's memory is: the Go heap in use and its live part, the
// goroutines' stacks, and memory the runtime holds but has not returned to the system.
type MemoryBreakdown struct {
	HeapLiveMiB  float64 `json:"heapLiveMiB"`
	HeapInUseMiB float64 `json:"heapInUseMiB"`
	StackMiB     float64 `json:"stackMiB"`
	IdleMiB      float64 `json:"idleNotReleasedMiB"`
	RuntimeMiB   float64 `json:"runtimeSysMiB"`
	Goroutines   int     `json:"goroutines"`
	// RSSAnonMiB is the resident memory no file backs (the Go runtime's, and what SQLite's
	// allocator maps beside it); RSSFileMiB the resident pages of files (the binary's code).
	RSSAnonMiB float64 `json:"rssAnonMiB,omitempty"`
	RSSFileMiB float64 `json:"rssFileMiB,omitempty"`
}

// memoryBreakdown collects garbage, then reads the runtime's memory statistics.
func memoryBreakdown() MemoryBreakdown {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return MemoryBreakdown{
		HeapLiveMiB:  mib(int64(m.HeapAlloc)),
		HeapInUseMiB: mib(int64(m.HeapInuse)),
		StackMiB:     mib(int64(m.StackInuse)),
		IdleMiB:      mib(int64(m.HeapIdle - m.HeapReleased)),
		RuntimeMiB:   mib(int64(m.Sys)),
		Goroutines:   runtime.NumGoroutine(),
		RSSAnonMiB:   mib(procStatusBytes("RssAnon:")),
		RSSFileMiB:   mib(procStatusBytes("RssFile:")),
	}
}
