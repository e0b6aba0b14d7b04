// Command sched sets up known scheduler states, then crashes: a fixture for
// "go sched" and "go threads".
//
// Usage: sched [MODE]
//
//	MODE  panic (default): crash once everything is set up
//	      wait: print "READY <pid>" and block
//
// What it sets up: GOMAXPROCS 3; two goroutines locked to their OS threads
// (parked on a channel); one goroutine blocked in read(2) on a pipe; six
// goroutines spinning, more than there are Ps, so some always wait in run queues.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

const (
	procs    = 3
	lockers  = 2
	spinners = 6
)

var (
	parked sync.WaitGroup
	never  = make(chan int)
	sink   [spinners]int64
)

//go:noinline
func lockedWaiter() {
	runtime.LockOSThread()
	parked.Done()
	<-never
}

//go:noinline
func syscallReader(fd int) {
	var buf [1]byte
	parked.Done()
	syscall.Read(fd, buf[:])
}

//go:noinline
func spin(i int) {
	parked.Done()
	for n := int64(0); ; n++ {
		sink[i] += n
	}
}

//go:noinline
func crash() {
	panic("goext-sched: deliberate panic with known scheduler state")
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	runtime.GOMAXPROCS(procs)
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		panic(err)
	}
	for i := 0; i < lockers; i++ {
		parked.Add(1)
		go lockedWaiter()
	}
	parked.Add(1)
	go syscallReader(fds[0])
	for i := 0; i < spinners; i++ {
		parked.Add(1)
		go spin(i)
	}
	parked.Wait()
	time.Sleep(300 * time.Millisecond)
	switch mode {
	case "wait":
		fmt.Printf("READY %d\n", os.Getpid())
		select {}
	default:
		crash()
	}
}
