// A small service that crashes: the bundled goext demo.
//
// Workers wait for jobs on a channel, one holds a mutex that another waits
// for, a ticker goroutine sleeps, and a request handler dereferences a nil
// map entry and panics.  Run with GOTRACEBACK=crash to get a core dump.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

type Job struct {
	ID      int
	Payload string
}

type Stats struct {
	mu       sync.Mutex
	served   int
	lastPath string
}

var (
	requestsServed = 41
	jobs           = make(chan Job)
	stats          = &Stats{lastPath: "/healthz"}
	sessions       = map[string]*Job{"alice": {ID: 1, Payload: "cart"}}
)

//go:noinline
func worker(id int, wg *sync.WaitGroup) {
	wg.Done()
	for job := range jobs {
		fmt.Println("worker", id, "got", job.ID)
	}
}

//go:noinline
func reporter(wg *sync.WaitGroup) {
	wg.Done()
	stats.mu.Lock() // waits: handle() holds the lock while it crashes
	stats.mu.Unlock()
}

//go:noinline
func ticker(wg *sync.WaitGroup) {
	wg.Done()
	for {
		time.Sleep(time.Minute)
	}
}

//go:noinline
func handle(user string) int {
	stats.mu.Lock()
	defer stats.mu.Unlock()
	stats.served++
	requestsServed++
	return sessions[user].ID // nil pointer dereference for unknown users
}

func main() {
	var wg sync.WaitGroup
	stats.mu.Lock()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go worker(i, &wg)
	}
	wg.Add(2)
	go reporter(&wg)
	go ticker(&wg)
	wg.Wait()
	stats.mu.Unlock()
	time.Sleep(200 * time.Millisecond)
	fmt.Fprintln(os.Stderr, "handling request for bob")
	fmt.Println(handle("bob"))
}
