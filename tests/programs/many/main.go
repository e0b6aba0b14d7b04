// Command many parks a large number of goroutines in a handful of distinct
// stacks, then panics: a fixture for goroutine grouping and for benchmarks.
//
// Usage: many [MODE] [COUNT [DEPTH]]
//
//	MODE   panic (default) or wait ("READY <pid>" on stdout, then block)
//	COUNT  goroutines to park (default 10000); "many 500" is "many panic 500"
//	DEPTH  with DEPTH, every goroutine parks DEPTH frames deep in kindDeep
//	       (benchmarks of deep stacks); without, goroutine i parks in stack
//	       kind i%5, so each kind holds COUNT/5 goroutines.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var (
	parked    sync.WaitGroup
	never     = make(chan int)
	neverStr  = make(chan string)
	heldMutex sync.Mutex
	neverDone sync.WaitGroup
	sink      int
)

//go:noinline
func kindChanRecv() {
	parked.Done()
	sink = <-never
}

//go:noinline
func kindSelectLeaf() {
	parked.Done()
	select {
	case v := <-never:
		sink = v
	case s := <-neverStr:
		sink = len(s)
	}
}

//go:noinline
func kindSelect() {
	kindSelectLeaf()
}

//go:noinline
func kindMutex() {
	parked.Done()
	heldMutex.Lock()
}

//go:noinline
func kindWaitGroup() {
	parked.Done()
	neverDone.Wait()
}

//go:noinline
func kindDeep(depth int) int {
	if depth == 0 {
		parked.Done()
		return <-never
	}
	return kindDeep(depth-1) + 1
}

//go:noinline
func start(count, depth int) {
	for i := 0; i < count; i++ {
		parked.Add(1)
		if depth > 0 {
			go kindDeep(depth)
			continue
		}
		switch i % 5 {
		case 0:
			go kindChanRecv()
		case 1:
			go kindSelect()
		case 2:
			go kindMutex()
		case 3:
			go kindWaitGroup()
		default:
			go kindDeep(5)
		}
	}
}

//go:noinline
func explode(count int) {
	panic(fmt.Sprintf("goext-many: deliberate panic with %d parked goroutines", count))
}

func main() {
	mode, count, depth := "panic", 10000, 0
	args := os.Args[1:]
	if len(args) > 0 {
		if _, err := strconv.Atoi(args[0]); err != nil {
			mode = args[0]
			args = args[1:]
		}
	}
	numbers := []*int{&count, &depth}
	for i, arg := range args {
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || i >= len(numbers) {
			fmt.Fprintf(os.Stderr, "many: bad argument %q\n", arg)
			os.Exit(2)
		}
		*numbers[i] = n
	}
	heldMutex.Lock()
	neverDone.Add(1)
	start(count, depth)
	parked.Wait()
	time.Sleep(300 * time.Millisecond)
	switch mode {
	case "panic":
		explode(count)
	case "wait":
		fmt.Fprintf(os.Stdout, "READY %d\n", os.Getpid())
		os.Stdout.Sync()
		for {
			// A sleeping main keeps a timer pending, so the runtime never
			// declares the parked goroutines deadlocked.
			time.Sleep(time.Hour)
		}
	default:
		fmt.Fprintf(os.Stderr, "usage: many [panic|wait] [COUNT [DEPTH]] (got %q)\n", mode)
		os.Exit(2)
	}
}
