//go:build !failpoints

package failpoint

// Hit does nothing: this binary was built without the failpoints tag.
func Hit(point, kind string) {}

// Enabled reports whether this binary can crash at a point.
const Enabled = false
