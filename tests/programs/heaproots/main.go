// Command heaproots builds a heap in which the root of every object is known:
// main.Item objects held by a global map (main.cache), main.Held objects held
// only by a parked goroutine's local slice (main.holdLocally, which waits on a
// channel a global holds: not leaked), main.Finalized
// objects (and the [16]int64 each points at) held only by their finalizers,
// a ring of main.CycleNode objects held by nothing (garbage the GC has not
// collected yet: the program turns the GC off before allocating), a 200 MB
// []byte held by a global (main.gBig), and goroutines leaked on a channel that
// only they can reach (main.leakOne), next to one waiting on a channel a global
// holds (main.waitOnGlobal, not leaked).
//
// Before panicking it prints what it built: "TRUTH name<TAB>value" (counts and
// sizes), "ADDR kind 0x…" for every object of the kinds above, and
// "LEAKED id" / "WAITING id" for the goroutines.
//
// Usage: heaproots panic
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Item is 56 bytes (size class 64) with pointers.
type Item struct {
	key     string
	next    *Item
	payload [4]int64
}

// Held is 80 bytes (size class 80) with pointers.
type Held struct {
	id   int64
	self *Held
	data [8]int64
}

// Finalized is 16 bytes (size class 16) with a pointer to 128 bytes of scalars.
type Finalized struct {
	id  int64
	buf *[16]int64
}

// CycleNode is 88 bytes (size class 96) with pointers.
type CycleNode struct {
	next *CycleNode
	pad  [10]int64
}

const (
	nItems     = 1000
	nHeld      = 700
	nFinalized = 300
	nCycle     = 50
	nLeaked    = 5
	bigBytes   = 200 << 20
)

var (
	cache  = map[string]*Item{}
	gBig   []byte
	gWake  = make(chan int)
	parked sync.WaitGroup
)

func truth(name string, value interface{}) {
	fmt.Printf("TRUTH %s\t%v\n", name, value)
}

func addr(kind string, p unsafe.Pointer) {
	fmt.Printf("ADDR %s %#x\n", kind, uintptr(p))
}

// goroutineID parses this goroutine's id from its own traceback header.
func goroutineID() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	fields := strings.Fields(string(buf))
	id, _ := strconv.Atoi(fields[1])
	return id
}

func fillCache() {
	var previous *Item
	for i := 0; i < nItems; i++ {
		item := &Item{key: "k" + strconv.Itoa(i), next: previous}
		item.payload[0] = int64(i)
		cache[item.key] = item
		addr("item", unsafe.Pointer(item))
		previous = item
	}
}

//go:noinline
func holdLocally(ready chan<- []*Held, block <-chan int) {
	held := make([]*Held, 0, nHeld)
	for i := 0; i < nHeld; i++ {
		h := &Held{id: int64(i)}
		h.self = h
		held = append(held, h)
	}
	ready <- held
	parked.Done()
	<-block
	runtime.KeepAlive(held)
}

func finalize() {
	for i := 0; i < nFinalized; i++ {
		f := &Finalized{id: int64(i), buf: new([16]int64)}
		addr("finalized", unsafe.Pointer(f))
		addr("finalizedbuf", unsafe.Pointer(f.buf))
		runtime.SetFinalizer(f, func(*Finalized) {})
	}
}

//go:noinline
func makeGarbageCycle() {
	first := &CycleNode{}
	node := first
	addr("cycle", unsafe.Pointer(first))
	for i := 1; i < nCycle; i++ {
		node.next = &CycleNode{}
		node = node.next
		addr("cycle", unsafe.Pointer(node))
	}
	node.next = first
}

//go:noinline
func leakOne(ch chan int, ids chan<- int) {
	ids <- goroutineID()
	parked.Done()
	<-ch
}

// leak starts goroutines that wait on a channel nothing else can reach.
//
//go:noinline
func leak(ids chan<- int) {
	ch := make(chan int)
	for i := 0; i < nLeaked; i++ {
		go leakOne(ch, ids)
	}
}

//go:noinline
func waitOnGlobal(ids chan<- int) {
	ids <- goroutineID()
	parked.Done()
	<-gWake
}

func main() {
	if len(os.Args) != 2 || os.Args[1] != "panic" {
		fmt.Fprintln(os.Stderr, "usage: heaproots panic")
		os.Exit(2)
	}
	runtime.GC()
	// From here on no collection runs: the garbage ring and the finalized
	// objects stay in the heap, as they would between two cycles.
	debug.SetGCPercent(-1)

	fillCache()
	gBig = make([]byte, bigBytes)
	gBig[0], gBig[bigBytes-1] = 1, 1
	addr("big", unsafe.Pointer(&gBig[0]))

	parked.Add(1 + nLeaked + 1)
	ready := make(chan []*Held)
	go holdLocally(ready, gWake)
	for _, h := range <-ready {
		addr("held", unsafe.Pointer(h))
	}
	finalize()
	makeGarbageCycle()
	ids := make(chan int, nLeaked+1)
	leak(ids)
	for i := 0; i < nLeaked; i++ {
		fmt.Printf("LEAKED %d\n", <-ids)
	}
	go waitOnGlobal(ids)
	fmt.Printf("WAITING %d\n", <-ids)
	parked.Wait()
	time.Sleep(300 * time.Millisecond)

	truth("count.Item", nItems)
	truth("count.Held", nHeld)
	truth("count.Finalized", nFinalized)
	truth("count.CycleNode", nCycle)
	truth("count.leaked", nLeaked)
	truth("size.Item", unsafe.Sizeof(Item{}))
	truth("size.Held", unsafe.Sizeof(Held{}))
	truth("size.Finalized", unsafe.Sizeof(Finalized{}))
	truth("size.CycleNode", unsafe.Sizeof(CycleNode{}))
	truth("size.big", bigBytes)
	os.Stdout.Sync()
	panic(errors.New("goext-heaproots: deliberate panic"))
}
