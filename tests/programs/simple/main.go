// Command simple is the smallest crashing fixture: two parked goroutines and
// a panic in main.  It is the fast smoke test for every toolchain.
//
// Usage: simple [panic|segv|wait]
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

type record struct {
	Name  string
	Count int
}

var (
	parked  sync.WaitGroup
	never   = make(chan int)
	message = "goext-simple"
	numbers = []int{1, 2, 3}
	table   = map[string]int{"a": 1, "b": 2}
	nilRec  *record
	sink    int
)

//go:noinline
func waitOnChannel() {
	parked.Done()
	sink = <-never
}

//go:noinline
func sleepLong() {
	parked.Done()
	time.Sleep(1000 * time.Hour)
}

//go:noinline
func crash(reason string) {
	panic("goext-simple: deliberate panic: " + reason)
}

//go:noinline
func touch(r *record) int {
	return r.Count + 1
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	parked.Add(2)
	go waitOnChannel()
	go sleepLong()
	parked.Wait()
	time.Sleep(100 * time.Millisecond)
	switch mode {
	case "panic":
		crash(fmt.Sprintf("%s %d %d", message, len(numbers), len(table)))
	case "segv":
		sink = touch(nilRec)
	case "wait":
		fmt.Fprintf(os.Stdout, "READY %d\n", os.Getpid())
		os.Stdout.Sync()
		<-never
	default:
		fmt.Fprintf(os.Stderr, "usage: simple panic|segv|wait (got %q)\n", mode)
		os.Exit(2)
	}
}
