// Command longwait parks goroutines for over a minute before it panics, so the
// runtime's traceback shows wait times ("[chan receive, 1 minutes]").
//
// Usage: longwait [panic] [SECONDS]   (default 62 seconds)
//
// The runtime stamps g.waitsince of parked goroutines lazily, when a GC scans
// their stacks, with the start time of the previous GC's mark termination
// (work.tstart in src/runtime/mgcmark.go), so main forces two GCs right after
// they park.
package main

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var (
	parked sync.WaitGroup
	never  = make(chan int)
	held   sync.Mutex
	sink   int
)

//go:noinline
func waitOnChannel() {
	parked.Done()
	sink = <-never
}

//go:noinline
func waitOnMutex() {
	parked.Done()
	held.Lock()
}

//go:noinline
func waitLocked() {
	runtime.LockOSThread()
	parked.Done()
	sink = <-never
}

//go:noinline
func crash(seconds int) {
	panic("goext-longwait: waited " + strconv.Itoa(seconds) + "s")
}

func main() {
	seconds := 62
	if len(os.Args) > 2 {
		if n, err := strconv.Atoi(os.Args[2]); err == nil {
			seconds = n
		}
	}
	held.Lock()
	parked.Add(3)
	go waitOnChannel()
	go waitOnMutex()
	go waitLocked()
	parked.Wait()
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	time.Sleep(time.Duration(seconds) * time.Second)
	crash(seconds)
}
