// Command heapy allocates known numbers of objects of known types and sizes
// and keeps them live in globals: small objects without pointers, small
// objects with pointers, objects over 512 bytes with pointers (allocation
// headers from Go 1.22), large objects with and without pointers, and tiny
// allocations.  After a full GC it prints the truth ("TRUTH name<TAB>value":
// counts, sizes, every address of the header and large objects, and the
// runtime's own runtime.ReadMemStats figures), then panics.
//
// Usage: heapy [panic [SCALE]]: SCALE (default 1) multiplies the small objects
// (for benchmarks: bench/bench_heap.py).
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"
)

// smallNoscan is 24 bytes without pointers: size class 24, noscan.
type smallNoscan struct{ a, b, c int64 }

// smallPtr is 32 bytes with pointers: size class 32, scan.
type smallPtr struct {
	next *smallPtr
	v    int64
	name string
}

// headerObj is 640 bytes with pointers: over 512 bytes, so from Go 1.22 its
// first word is an allocation header naming its type.
type headerObj struct {
	ptrs  [40]*smallPtr
	extra [40]int64
}

// largeObj is 48 KiB with pointers: a large object, typed by its span.
type largeObj struct {
	ptrs [3072]*smallPtr
	data [3072]int64
}

var (
	nSmallNoscan = 3000
	nSmallPtr    = 2000
)

const (
	nHeader     = 300
	nLarge      = 7
	nLargeBytes = 3
	largeBytes  = 1 << 20
	nTiny       = 1600
)

var (
	gSmallNoscan []*smallNoscan
	gSmallPtr    []*smallPtr
	gHeader      []*headerObj
	gLarge       []*largeObj
	gLargeBytes  [][]byte
	gTiny        []*[4]byte
)

func allocate() {
	for i := 0; i < nSmallNoscan; i++ {
		gSmallNoscan = append(gSmallNoscan, &smallNoscan{a: int64(i)})
	}
	for i := 0; i < nSmallPtr; i++ {
		p := &smallPtr{v: int64(i), name: "p"}
		if i > 0 {
			p.next = gSmallPtr[i-1]
		}
		gSmallPtr = append(gSmallPtr, p)
	}
	for i := 0; i < nHeader; i++ {
		h := &headerObj{}
		h.ptrs[0] = gSmallPtr[i]
		h.extra[0] = int64(i)
		gHeader = append(gHeader, h)
	}
	for i := 0; i < nLarge; i++ {
		l := &largeObj{}
		l.ptrs[0] = gSmallPtr[i]
		gLarge = append(gLarge, l)
	}
	for i := 0; i < nLargeBytes; i++ {
		b := make([]byte, largeBytes)
		b[0] = byte(i)
		gLargeBytes = append(gLargeBytes, b)
	}
	for i := 0; i < nTiny; i++ {
		t := new([4]byte)
		t[0] = byte(i)
		gTiny = append(gTiny, t)
	}
}

func truth(name string, value interface{}) {
	fmt.Printf("TRUTH %s\t%v\n", name, value)
}

func main() {
	if len(os.Args) > 2 {
		scale, err := strconv.Atoi(os.Args[2])
		if err != nil || scale < 1 {
			fmt.Fprintf(os.Stderr, "usage: heapy [panic [SCALE]] (got %q)\n", os.Args[2])
			os.Exit(2)
		}
		nSmallNoscan *= scale
		nSmallPtr *= scale
	}
	allocate()
	truth("count.smallNoscan", nSmallNoscan)
	truth("count.smallPtr", nSmallPtr)
	truth("count.headerObj", nHeader)
	truth("count.largeObj", nLarge)
	truth("count.largeBytes", nLargeBytes)
	truth("count.tiny", nTiny)
	truth("size.smallNoscan", unsafe.Sizeof(smallNoscan{}))
	truth("size.smallPtr", unsafe.Sizeof(smallPtr{}))
	truth("size.headerObj", unsafe.Sizeof(headerObj{}))
	truth("size.largeObj", unsafe.Sizeof(largeObj{}))
	truth("size.largeBytes", largeBytes)
	for _, h := range gHeader {
		fmt.Printf("ADDR headerObj %#x\n", uintptr(unsafe.Pointer(h)))
	}
	for _, l := range gLarge {
		fmt.Printf("ADDR largeObj %#x\n", uintptr(unsafe.Pointer(l)))
	}
	for _, b := range gLargeBytes {
		fmt.Printf("ADDR largeBytes %#x\n", uintptr(unsafe.Pointer(&b[0])))
	}
	os.Stdout.Sync()
	runtime.GC() // everything swept: allocation bits are the marks of this cycle
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	// One write, from a buffer made before the figures were read.
	line := fmt.Sprintf("TRUTH mem.HeapObjects\t%d\nTRUTH mem.HeapAlloc\t%d\nTRUTH mem.HeapInuse\t%d\nTRUTH mem.Mallocs\t%d\nTRUTH mem.Frees\t%d\n",
		stats.HeapObjects, stats.HeapAlloc, stats.HeapInuse, stats.Mallocs, stats.Frees)
	os.Stdout.WriteString(line)
	os.Stdout.Sync()
	if len(os.Args) > 1 && os.Args[1] != "panic" {
		fmt.Fprintf(os.Stderr, "usage: heapy [panic] (got %q)\n", os.Args[1])
		os.Exit(2)
	}
	panic(errors.New("goext-heapy: deliberate panic"))
}
