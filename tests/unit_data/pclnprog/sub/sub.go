// Package sub is a second package so the pc/line table spans compile units.
package sub

// Twice is small enough to be inlined into callers in another package.
func Twice(f func()) {
	f()
	f()
}

// Apply is inlined and calls through a function value.
func Apply(x int, f func(int) int) int {
	return f(x) + 1
}
