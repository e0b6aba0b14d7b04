// Command healthy is a program with no deadlock whose goroutines wait on
// everything a server waits on: tickers, timers (time.After, time.Sleep,
// time.AfterFunc, context deadlines), a loopback HTTP server with an idle
// keep-alive connection, signal.Notify, a sync.Cond, a WaitGroup whose workers
// sleep, a mutex held by a sleeping goroutine and a producer/consumer pair.
// "go deadlock" must find no stuck goroutine in it, and "go leaks" no leaked
// one: everything a goroutine waits on stays reachable by one that may run.
//
// Usage: healthy panic|wait [quiet]
//
// "wait quiet" runs only a service whose ticker goroutine feeds a channel its
// consumer reads through the service struct (a reference only the heap
// holds), with main parked in select {}: no goroutine sleeps or runs, yet the
// ticker wakes one that may send.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

var (
	parked    sync.WaitGroup
	sink      int
	guard     sync.Mutex
	cancelAll context.CancelFunc
	// The Cond condWait waits on, reachable from here: whoever would signal it
	// (a server's config reloader, say) can.  Held only by condWait's stack, it
	// would be a goroutine leak.
	gCond *sync.Cond
)

// tickerLoop is the minimal case of the issue: a select on a ticker and ctx.Done().
//
//go:noinline
func tickerLoop(ctx context.Context) {
	ticker := time.NewTicker(time.Hour)
	defer ticker.Stop()
	parked.Done()
	for {
		select {
		case <-ticker.C:
			sink++
		case <-ctx.Done():
			return
		}
	}
}

//go:noinline
func afterWait(quit chan struct{}) {
	parked.Done()
	select {
	case <-time.After(time.Hour):
	case <-quit:
	}
}

//go:noinline
func sleeper() {
	parked.Done()
	time.Sleep(time.Hour)
}

// afterFuncWait waits on a channel that only a time.AfterFunc function closes.
//
//go:noinline
func afterFuncWait() {
	done := make(chan struct{})
	time.AfterFunc(time.Hour, func() { close(done) })
	parked.Done()
	<-done
}

//go:noinline
func deadlineWait() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	parked.Done()
	<-ctx.Done()
}

//go:noinline
func signalWait() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	parked.Done()
	<-c
}

//go:noinline
func condWait(cond *sync.Cond, ready *bool) {
	cond.L.Lock()
	parked.Done()
	for !*ready {
		cond.Wait()
	}
	cond.L.Unlock()
}

//go:noinline
func sleepingWorker(wg *sync.WaitGroup) {
	defer wg.Done()
	parked.Done()
	time.Sleep(time.Hour)
}

//go:noinline
func groupWait(wg *sync.WaitGroup) {
	parked.Done()
	wg.Wait()
}

//go:noinline
func lockHolder(mu *sync.Mutex) {
	mu.Lock()
	defer mu.Unlock()
	parked.Done()
	time.Sleep(time.Hour)
}

//go:noinline
func lockWaiter(mu *sync.Mutex) {
	parked.Done()
	mu.Lock()
	sink++
	mu.Unlock()
}

//go:noinline
func globalLockHolder() {
	guard.Lock()
	defer guard.Unlock()
	parked.Done()
	time.Sleep(time.Hour)
}

//go:noinline
func globalLockWaiter() {
	guard.Lock()
	sink++
	guard.Unlock()
}

//go:noinline
func producer(out chan<- int) {
	parked.Done()
	for i := 0; ; i++ {
		time.Sleep(time.Hour)
		out <- i
	}
}

//go:noinline
func consumer(in <-chan int) {
	parked.Done()
	for v := range in {
		sink += v
	}
}

// serve runs a loopback TCP server whose handler reads from an idle client
// connection, and keeps that client connection open, reading too.
func serve() net.Conn {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	accepted := make(chan struct{})
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go handle(conn, accepted)
		}
	}()
	client, err := net.Dial("tcp", listener.Addr().String())
	if err != nil {
		panic(err)
	}
	<-accepted
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := client.Read(buf); err != nil {
				return
			}
		}
	}()
	return client
}

type service struct {
	name    string
	updates chan int
}

//go:noinline
func (s *service) consume() {
	for v := range s.updates {
		sink += v
	}
}

//go:noinline
func (s *service) tick() {
	ticker := time.NewTicker(time.Hour)
	defer ticker.Stop()
	parked.Done()
	for now := range ticker.C {
		s.updates <- now.Second()
	}
}

//go:noinline
func handle(conn net.Conn, accepted chan<- struct{}) {
	accepted <- struct{}{}
	buf := make([]byte, 64)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		conn.Write(buf[:n])
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: healthy panic|wait")
		os.Exit(2)
	}
	if os.Args[1] == "wait" && len(os.Args) > 2 && os.Args[2] == "quiet" {
		s := &service{name: "quiet", updates: make(chan int)}
		parked.Add(1)
		go s.consume()
		go s.tick()
		parked.Wait()
		time.Sleep(100 * time.Millisecond)
		fmt.Printf("READY %d\n", os.Getpid())
		select {}
	}
	// Not deferred: the panic would run it and wake tickerLoop.
	ctx, cancel := context.WithCancel(context.Background())
	cancelAll = cancel
	quit := make(chan struct{})
	cond := sync.NewCond(&sync.Mutex{})
	gCond = cond
	ready := false
	var workers sync.WaitGroup
	var mu sync.Mutex
	pipe := make(chan int)

	parked.Add(12)
	go tickerLoop(ctx)
	go afterWait(quit)
	go sleeper()
	go afterFuncWait()
	go deadlineWait()
	go signalWait()
	go condWait(cond, &ready)
	workers.Add(3)
	for i := 0; i < 3; i++ {
		go sleepingWorker(&workers)
	}
	go groupWait(&workers)
	go lockHolder(&mu)
	parked.Wait()
	parked.Add(4)
	go lockWaiter(&mu)
	go globalLockHolder()
	go producer(pipe)
	go consumer(pipe)
	parked.Wait()
	go globalLockWaiter()
	client := serve()
	time.Sleep(300 * time.Millisecond)
	if os.Args[1] == "wait" {
		fmt.Printf("READY %d\n", os.Getpid())
		select {}
	}
	sink += len(fmt.Sprint(client != nil, quit != nil))
	panic("goext-healthy: deliberate panic in a healthy program")
}
