// Command cgo parks goroutines inside C code and inside Go code called back
// from C, then panics: the cgo frames and stack switches of a real program.
//
// Usage: cgo [panic|wait]
package main

/*
#include <unistd.h>

extern void goCallback(int depth);

static void c_sleep(unsigned int seconds) { sleep(seconds); }

static void c_calls_go(int depth) { goCallback(depth); }
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"time"
)

var (
	parked sync.WaitGroup
	never  = make(chan int)
	sink   int
)

//export goCallback
func goCallback(depth C.int) {
	parked.Done()
	sink = <-never + int(depth)
}

//go:noinline
func sleepInC() {
	parked.Done()
	C.c_sleep(3600)
}

//go:noinline
func callbackFromC() {
	C.c_calls_go(7)
}

//go:noinline
func crash() {
	panic("goext-cgo: deliberate panic")
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	parked.Add(2)
	go sleepInC()
	go callbackFromC()
	parked.Wait()
	time.Sleep(300 * time.Millisecond)
	if mode == "wait" {
		fmt.Printf("READY %d\n", os.Getpid())
		for {
			time.Sleep(time.Hour)
		}
	}
	crash()
}
