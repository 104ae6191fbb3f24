//go:build !unix

package testinstance

// No reaper outside Unix: a directory left by a process that died without
// Close is removed by the next Start (sweepStaleClusters).
type reaper struct{}

func startReaper(dir string) *reaper { return nil }

func (r *reaper) stop() {}
