//go:build failpoints

package failpoint

import (
	"os"
	"strings"
	"syscall"
)

// Enabled reports whether this binary can crash at a point.
const Enabled = true

var armedPoint, armedKind = parse(os.Getenv(Env))

func parse(v string) (string, string) {
	point, kind, _ := strings.Cut(strings.TrimSpace(v), ":")
	return point, kind
}

// Hit ends the process at once, as SIGKILL would, when point (for kind, if the armed value
// names one) is the armed crash point.
func Hit(point, kind string) {
	if point == "" || point != armedPoint || (armedKind != "" && armedKind != kind) {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught; never return to the caller meanwhile
}
