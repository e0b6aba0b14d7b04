// Command deadlocks holds the deadlocks "go deadlock" must find, each next to
// goroutines that are fine.
//
// Usage: deadlocks MODE [COUNT]
//
//	crowd      two goroutines lock two mutexes in opposite orders (main.lockAB,
//	           main.lockBA) while COUNT workers (default 50000, main.crowdWorker)
//	           wait on a job channel that a sleeping producer (main.jobProducer)
//	           holds, and one goroutine (main.forgottenWait) waits on a
//	           WaitGroup whose workers exited without calling Done; then panics
//	wgnever    only main waits, on a WaitGroup whose workers exited without
//	           calling Done: the runtime reports "all goroutines are asleep"
//	bank       the AB/BA pair inside methods of one struct whose two mutexes are
//	           unlocked by defer (main.(*bank).deposit holds accounts and waits
//	           for ledger in main.(*bank).record, main.(*bank).audit the other
//	           way round), while main keeps using the struct, sleeping: main
//	           points at both mutexes but holds neither; then a goroutine panics
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

type resource struct {
	name string
	mu   sync.Mutex
	uses int
}

var (
	parked sync.WaitGroup
	sink   int
)

//go:noinline
func lockAB(first, second *resource, both *sync.WaitGroup) {
	first.mu.Lock()
	defer first.mu.Unlock()
	both.Done()
	both.Wait()
	parked.Done()
	second.mu.Lock()
	defer second.mu.Unlock()
	first.uses++
	second.uses++
}

//go:noinline
func lockBA(first, second *resource, both *sync.WaitGroup) {
	first.mu.Lock()
	defer first.mu.Unlock()
	both.Done()
	both.Wait()
	parked.Done()
	second.mu.Lock()
	defer second.mu.Unlock()
	first.uses++
	second.uses++
}

//go:noinline
func crowdWorker(jobs <-chan int) {
	parked.Done()
	for job := range jobs {
		sink += job
	}
}

//go:noinline
func jobProducer(jobs chan<- int) {
	parked.Done()
	for i := 0; ; i++ {
		time.Sleep(time.Hour)
		jobs <- i
	}
}

// forgottenWait waits for three workers, but they exit without calling Done.
//
//go:noinline
func forgottenWait() {
	var wg sync.WaitGroup
	wg.Add(3)
	var started sync.WaitGroup
	started.Add(3)
	for i := 0; i < 3; i++ {
		go func() {
			started.Done()
			sink++ // forgot wg.Done()
		}()
	}
	started.Wait()
	parked.Done()
	wg.Wait()
}

type bank struct {
	name     string
	accounts sync.Mutex
	balance  int
	ledger   sync.Mutex
	entries  int
}

//go:noinline
func (b *bank) deposit(amount int, both *sync.WaitGroup) {
	b.accounts.Lock()
	defer b.accounts.Unlock()
	b.balance += amount
	both.Done()
	both.Wait()
	parked.Done()
	b.record()
}

//go:noinline
func (b *bank) record() {
	b.ledger.Lock()
	defer b.ledger.Unlock()
	b.entries++
}

//go:noinline
func (b *bank) audit(both *sync.WaitGroup) {
	b.ledger.Lock()
	defer b.ledger.Unlock()
	both.Done()
	both.Wait()
	parked.Done()
	b.accounts.Lock()
	defer b.accounts.Unlock()
	sink += b.balance + b.entries
}

func bankDeadlock() {
	b := &bank{name: "bank"}
	var both sync.WaitGroup
	both.Add(2)
	parked.Add(2)
	go b.deposit(1, &both)
	go b.audit(&both)
	parked.Wait()
	go func() {
		time.Sleep(300 * time.Millisecond)
		panic("goext-deadlocks: deliberate panic while two goroutines are deadlocked")
	}()
	for {
		time.Sleep(time.Second)
		sink += len(b.name)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: deadlocks crowd [COUNT] | wgnever | bank")
		os.Exit(2)
	}
	if os.Args[1] == "bank" {
		bankDeadlock()
	}
	if os.Args[1] == "wgnever" {
		var wg sync.WaitGroup
		wg.Add(2)
		for i := 0; i < 2; i++ {
			go func() { sink++ }() // forgot wg.Done()
		}
		wg.Wait()
		return
	}
	count := 50000
	if len(os.Args) > 2 {
		count, _ = strconv.Atoi(os.Args[2])
	}
	a, b := &resource{name: "A"}, &resource{name: "B"}
	var both sync.WaitGroup
	both.Add(2)
	jobs := make(chan int)
	parked.Add(4 + count)
	go lockAB(a, b, &both)
	go lockBA(b, a, &both)
	go jobProducer(jobs)
	go forgottenWait()
	for i := 0; i < count; i++ {
		go crowdWorker(jobs)
	}
	parked.Wait()
	time.Sleep(300 * time.Millisecond)
	panic("goext-deadlocks: deliberate panic while two goroutines are deadlocked")
}
