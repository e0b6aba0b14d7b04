// Command stuck deadlocks on purpose: a fixture for "go deadlock".
//
// Usage: stuck MODE
//
//	allasleep  two goroutines take two mutexes in opposite orders and main
//	           waits for them: the runtime itself reports
//	           "all goroutines are asleep - deadlock!"
//	partial    the same lock cycle, plus a channel ring of three goroutines
//	           each receiving from the next, while workers keep running;
//	           main panics after everything has settled
//	wait       like partial, but print "READY <pid>" and block instead of panicking
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

type account struct {
	mu      sync.Mutex
	name    string
	balance int
}

var (
	accountA = &account{name: "A", balance: 100}
	accountB = &account{name: "B", balance: 100}
	holding  sync.WaitGroup // both transfers hold their first lock
	started  sync.WaitGroup
	sink     int64
	ticks    = make(chan int)
)

// transfer locks from, then to: two transfers in opposite directions deadlock.
//
//go:noinline
func transfer(from, to *account, amount int) {
	from.mu.Lock()
	defer from.mu.Unlock()
	holding.Done()
	holding.Wait()
	to.mu.Lock()
	defer to.mu.Unlock()
	from.balance -= amount
	to.balance += amount
}

// ringMember receives from in and would then send to out: in a ring nobody sends first.
//
//go:noinline
func ringMember(in <-chan int, out chan<- int) {
	started.Done()
	v := <-in
	out <- v + 1
}

//go:noinline
func worker(i int) {
	started.Done()
	for n := int64(0); ; n++ {
		sink += n * int64(i)
		if n%1000000 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

//go:noinline
func ticker() {
	started.Done()
	for i := 0; ; i++ {
		time.Sleep(5 * time.Millisecond)
		select {
		case ticks <- i:
		default:
		}
	}
}

//go:noinline
func crash() {
	panic("goext-stuck: deliberate panic while two goroutines are deadlocked")
}

func startLockCycle() {
	holding.Add(2)
	go transfer(accountA, accountB, 10)
	go transfer(accountB, accountA, 20)
}

func startRing() {
	first := make(chan int)
	second := make(chan int)
	third := make(chan int)
	started.Add(3)
	go ringMember(first, second)
	go ringMember(second, third)
	go ringMember(third, first)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: stuck allasleep|partial|wait")
		os.Exit(2)
	}
	mode := os.Args[1]
	startLockCycle()
	if mode == "allasleep" {
		holding.Wait()
		var done sync.WaitGroup
		done.Add(1)
		done.Wait() // nobody will call Done: the runtime reports the deadlock
		return
	}
	startRing()
	started.Add(3)
	go worker(1)
	go worker(2)
	go ticker()
	started.Wait()
	holding.Wait()
	time.Sleep(300 * time.Millisecond)
	if mode == "wait" {
		fmt.Printf("READY %d\n", os.Getpid())
		select {}
	}
	crash()
}
