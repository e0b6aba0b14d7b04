// Command zoo parks goroutines in as many distinct states as practical and
// keeps values of every kind of Go type reachable, so debugger tests have
// something to list, unwind and print.
//
// It must build with every Go release from 1.19 on: no min/max builtins, no
// clear, no range-over-func or range-over-int, no errors.Join, no slices/maps
// packages, and loop variables are copied explicitly.
//
// Usage: zoo MODE
//
//	panic     after every goroutine is parked, main panics from a nested call
//	segv      after every goroutine is parked, a new goroutine dereferences nil
//	wait      print "READY <pid>" and block forever (for live tests and gcore)
//	deadlock  only channel/lock waiters are started; the runtime reports
//	          "all goroutines are asleep - deadlock!"
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// ---------------------------------------------------------------------------
// Types used by the value globals.

type Celsius float64

type Color int

const (
	Red Color = iota
	Green
	Blue
)

func (c Color) String() string {
	switch c {
	case Red:
		return "Red"
	case Green:
		return "Green"
	case Blue:
		return "Blue"
	}
	return fmt.Sprintf("Color(%d)", int(c))
}

type Point struct {
	X, Y int
}

type Base struct {
	ID  int
	Tag string
}

type Inner struct {
	A, B int32
}

// Derived embeds a struct by value and another by pointer.
type Derived struct {
	Base
	*Inner
	Name   string
	Scores []int
	Meta   map[string]int
}

// Node lets the fixture build pointer cycles.
type Node struct {
	Name  string
	Value int
	Next  *Node
}

// BigKey and BigValue exceed 128 bytes, so maps store them indirectly.
type BigKey struct {
	Words [20]int64
}

type BigValue struct {
	Data  [40]int32
	Label string
}

type ZooError struct {
	Code int
	Op   string
}

func (e *ZooError) Error() string {
	if e == nil {
		return "<nil ZooError>"
	}
	return fmt.Sprintf("zoo error %d during %s", e.Code, e.Op)
}

type Shape interface {
	Area() float64
}

type Rect struct {
	W, H float64
}

func (r Rect) Area() float64 { return r.W * r.H }

type Pair[K comparable, V any] struct {
	Key   K
	Value V
}

// Mixed holds one field of many kinds, including an anonymous struct.
type Mixed struct {
	Flag    bool
	Small   int8
	Ratio   float32
	Text    string
	Items   []string
	Grid    [2][3]uint16
	Lookup  map[string]Point
	Any     interface{}
	Err     error
	Next    *Mixed
	Handler func(int) int
	Nested  struct {
		Depth int
		Label string
	}
}

// ---------------------------------------------------------------------------
// Value globals.  Every one is referenced from keepAlive, so neither the
// compiler nor the linker drops it.

var (
	gInt     int     = -42
	gInt8    int8    = -8
	gInt16   int16   = -1600
	gInt32   int32   = -320000
	gInt64   int64   = -6400000000
	gUint    uint    = 42
	gUint8   uint8   = 200
	gUint16  uint16  = 65000
	gUint32  uint32  = 4000000000
	gUint64  uint64  = 18000000000000000000
	gUintptr uintptr = 0xdeadbeef
	gByte    byte    = 'g'
	gRune    rune    = '世'

	gFloat32    float32    = 3.25
	gFloat64    float64    = -2.5e10
	gComplex64  complex64  = complex(1.5, -2)
	gComplex128 complex128 = complex(-3.25, 4.5)

	gBoolTrue  = true
	gBoolFalse = false

	gString               = "hello, zoo"
	gEmptyString          = ""
	gUnicodeString        = "héllo, 世界 🦫"
	gLongString    string // set in init: 1200 bytes

	gSlice          = []int{1, 2, 3, 4, 5}
	gEmptySlice     = []int{}
	gNilSlice       []int
	gStringSlice    = []string{"alpha", "beta", "gamma"}
	gByteSlice      = []byte("bytes\x00\xff")
	gSubSlice       []int // gSlice[1:3], cap 4
	gSliceOfSlices  = [][]int{{1}, {2, 3}, {}}
	gStructSlice    = []Point{{1, 2}, {3, 4}}
	gPointerSlice   []*Point
	gInterfaceSlice = []interface{}{1, "two", 3.0, nil, Point{5, 6}}

	gArray       = [5]int{10, 20, 30, 40, 50}
	gMatrix      = [3][4]int{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}
	gCube        [2][2][2]int8
	gPointArray  = [2]Point{{7, 8}, {9, 10}}
	gEmptyArray  [0]int
	gStringArray = [3]string{"x", "yy", "zzz"}
	gBoolArray   = [4]bool{true, false, true, true}
	gFloatArray  = [3]float64{0.5, -1.25, 1e100}

	gSmallMap     = map[string]int{"one": 1, "two": 2, "three": 3}
	gEmptyMap     = map[string]int{}
	gNilMap       map[string]int
	gBigMap       map[int]string // 1500 inserted, every 3rd deleted
	gStructMap    map[string]Point
	gPointKeyMap  map[Point]string
	gBigKVMap     map[BigKey]BigValue
	gNestedMap    map[string]map[string]int
	gInterfaceMap map[interface{}]interface{}
	gGrowingMap   map[int]int // 1665 inserts: a classic map is caught growing

	gBufferedChan    = make(chan int, 8) // 3 elements queued
	gFullChan        = make(chan string, 2)
	gSendWaitChan    = make(chan int) // a sender is parked on it
	gRecvWaitChan    = make(chan int) // receivers are parked on it
	gStructChan      = make(chan Point, 4)
	gNilChan         chan int
	gClosedChan      = make(chan struct{})
	gSendOnlyChan    chan<- int
	gReceiveOnlyChan <-chan int

	gEmptyIface       interface{}
	gIfaceInt         interface{} = 42
	gIfaceString      interface{} = "boxed string"
	gIfacePoint       interface{} = Point{11, 12}
	gIfacePointer     interface{} = &Point{13, 14}
	gIfaceSlice       interface{} = []string{"in", "iface"}
	gIfaceMap         interface{} = map[string]bool{"yes": true}
	gShape            Shape       = Rect{W: 3, H: 4}
	gNilShape         Shape
	gStringer         fmt.Stringer = Blue
	gError            error        = errors.New("plain error")
	gWrappedError     error        // fmt.Errorf("...%w", gError), set in init
	gDoubleWrapped    error
	gNilError         error
	gTypedNilError    error       = (*ZooError)(nil)
	gCustomError      error       = &ZooError{Code: 7, Op: "feeding"}
	gIfaceTypedNilPtr interface{} = (*Point)(nil)

	gPtr       = &gInt
	gNilPtr    *int
	gPtrPtr    = &gPtr
	gPointPtr  = &Point{21, 22}
	gCycleA    *Node // A -> B -> A
	gSelfLoop  *Node // points to itself
	gLinkedRun *Node // a 40-node list

	gDerived     Derived
	gMixed       Mixed
	gEmptyStruct struct{}
	gPairInt     = Pair[string, int]{Key: "answer", Value: 42}
	gPairPoint   = Pair[int, Point]{Key: 1, Value: Point{2, 3}}

	gFunc      func(string) string = strings.ToUpper
	gMethod    func() float64
	gClosure   func() int
	gNilFunc   func()
	gUnsafePtr unsafe.Pointer
	gNilUnsafe unsafe.Pointer

	gCelsius  Celsius = 36.6
	gColor    Color   = Green
	gTime             = time.Date(2024, time.February, 29, 12, 34, 56, 789000000, time.UTC)
	gZeroTime time.Time
	gDuration = 90*time.Minute + 1500*time.Millisecond

	gLockedMutex   sync.Mutex // held by main for ever; a goroutine waits on it
	gUnlockedMutex sync.Mutex
	gReadLocked    sync.RWMutex // read-held; a writer waits on it
	gWriteLocked   sync.RWMutex // write-held; a reader waits on it
	gWaitGroup     sync.WaitGroup
	gCondMutex     sync.Mutex
	gCond          = sync.NewCond(&gCondMutex)
	gOnce          sync.Once

	gAtomicInt64   atomic.Int64
	gAtomicUint32  atomic.Uint32
	gAtomicBool    atomic.Bool
	gAtomicPointer atomic.Pointer[Node]
	gAtomicValue   atomic.Value

	keep []interface{}
)

func init() {
	gLongString = strings.Repeat("long-string-", 100)
	gSubSlice = gSlice[1:3]
	for i := 0; i < 3; i++ {
		p := &Point{i, -i}
		gPointerSlice = append(gPointerSlice, p)
	}
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			for k := 0; k < 2; k++ {
				gCube[i][j][k] = int8(i*4 + j*2 + k)
			}
		}
	}

	gBigMap = make(map[int]string)
	for i := 0; i < 1500; i++ {
		gBigMap[i] = fmt.Sprintf("value-%04d", i)
	}
	for i := 0; i < 1500; i += 3 {
		delete(gBigMap, i)
	}
	gStructMap = map[string]Point{"origin": {0, 0}, "unit": {1, 1}}
	gPointKeyMap = map[Point]string{{1, 2}: "a", {3, 4}: "b"}
	gBigKVMap = make(map[BigKey]BigValue)
	for i := 0; i < 5; i++ {
		var k BigKey
		var v BigValue
		for w := range k.Words {
			k.Words[w] = int64(i*100 + w)
		}
		for d := range v.Data {
			v.Data[d] = int32(i*1000 + d)
		}
		v.Label = fmt.Sprintf("big-%d", i)
		gBigKVMap[k] = v
	}
	gNestedMap = map[string]map[string]int{"outer": {"inner": 1}, "empty": {}}
	gInterfaceMap = map[interface{}]interface{}{1: "one", "two": 2.0, Point{1, 1}: nil}
	// A classic map (Go <= 1.23) with B=8 grows when its 1665th entry is
	// inserted (count > 6.5 * 2^B, src/runtime/map.go overLoadFactor); the
	// growth is finished only by later writes, so it stays half-evacuated.
	gGrowingMap = make(map[int]int)
	for i := 0; i < 1665; i++ {
		gGrowingMap[i] = i * i
	}

	gBufferedChan <- 101
	gBufferedChan <- 102
	gBufferedChan <- 103
	gFullChan <- "first"
	gFullChan <- "second"
	gStructChan <- Point{31, 32}
	close(gClosedChan)
	gSendOnlyChan = gBufferedChan
	gReceiveOnlyChan = gBufferedChan

	gWrappedError = fmt.Errorf("wrapped once: %w", gError)
	gDoubleWrapped = fmt.Errorf("wrapped twice: %w", gWrappedError)

	a := &Node{Name: "A", Value: 1}
	b := &Node{Name: "B", Value: 2, Next: a}
	a.Next = b
	gCycleA = a
	gSelfLoop = &Node{Name: "self", Value: 3}
	gSelfLoop.Next = gSelfLoop
	var head *Node
	for i := 39; i >= 0; i-- {
		head = &Node{Name: fmt.Sprintf("n%02d", i), Value: i, Next: head}
	}
	gLinkedRun = head

	gDerived = Derived{
		Base:   Base{ID: 99, Tag: "embedded"},
		Inner:  &Inner{A: 1, B: 2},
		Name:   "derived",
		Scores: []int{90, 80},
		Meta:   map[string]int{"k": 1},
	}
	gMixed = Mixed{
		Flag:    true,
		Small:   -3,
		Ratio:   0.75,
		Text:    "mixed",
		Items:   []string{"i1", "i2"},
		Grid:    [2][3]uint16{{1, 2, 3}, {4, 5, 6}},
		Lookup:  map[string]Point{"p": {1, 2}},
		Any:     Point{3, 4},
		Err:     gCustomError,
		Handler: func(x int) int { return x * 2 },
	}
	gMixed.Nested.Depth = 2
	gMixed.Nested.Label = "nested"
	gMixed.Next = &gMixed

	rect := Rect{W: 2, H: 5}
	gMethod = rect.Area
	counter := 0
	gClosure = func() int { counter++; return counter + gInt }
	gUnsafePtr = unsafe.Pointer(&gInt64)

	gLockedMutex.Lock()
	gReadLocked.RLock()
	gWriteLocked.Lock()
	gWaitGroup.Add(2)
	gOnce.Do(func() {})

	gAtomicInt64.Store(-123456789)
	gAtomicUint32.Store(77)
	gAtomicBool.Store(true)
	gAtomicPointer.Store(gSelfLoop)
	gAtomicValue.Store(Point{41, 42})

	keep = []interface{}{
		&gInt, &gInt8, &gInt16, &gInt32, &gInt64, &gUint, &gUint8, &gUint16, &gUint32, &gUint64,
		&gUintptr, &gByte, &gRune, &gFloat32, &gFloat64, &gComplex64, &gComplex128,
		&gBoolTrue, &gBoolFalse, &gString, &gEmptyString, &gUnicodeString, &gLongString,
		&gSlice, &gEmptySlice, &gNilSlice, &gStringSlice, &gByteSlice, &gSubSlice,
		&gSliceOfSlices, &gStructSlice, &gPointerSlice, &gInterfaceSlice,
		&gArray, &gMatrix, &gCube, &gPointArray, &gEmptyArray, &gStringArray, &gBoolArray, &gFloatArray,
		&gSmallMap, &gEmptyMap, &gNilMap, &gBigMap, &gStructMap, &gPointKeyMap, &gBigKVMap,
		&gNestedMap, &gInterfaceMap, &gGrowingMap,
		&gBufferedChan, &gFullChan, &gSendWaitChan, &gRecvWaitChan, &gStructChan, &gNilChan,
		&gClosedChan, &gSendOnlyChan, &gReceiveOnlyChan,
		&gEmptyIface, &gIfaceInt, &gIfaceString, &gIfacePoint, &gIfacePointer, &gIfaceSlice,
		&gIfaceMap, &gShape, &gNilShape, &gStringer, &gError, &gWrappedError, &gDoubleWrapped,
		&gNilError, &gTypedNilError, &gCustomError, &gIfaceTypedNilPtr,
		&gPtr, &gNilPtr, &gPtrPtr, &gPointPtr, &gCycleA, &gSelfLoop, &gLinkedRun,
		&gDerived, &gMixed, &gEmptyStruct, &gPairInt, &gPairPoint,
		&gFunc, &gMethod, &gClosure, &gNilFunc, &gUnsafePtr, &gNilUnsafe,
		&gCelsius, &gColor, &gTime, &gZeroTime, &gDuration,
		&gLockedMutex, &gUnlockedMutex, &gReadLocked, &gWriteLocked, &gWaitGroup,
		&gCondMutex, &gCond, &gOnce,
		&gAtomicInt64, &gAtomicUint32, &gAtomicBool, &gAtomicPointer, &gAtomicValue,
	}
}

// ---------------------------------------------------------------------------
// Goroutine states.  Each blocker calls parked.Done() immediately before the
// operation that blocks; main then waits for the count and a short settle
// delay so every goroutine has really parked.

var parked sync.WaitGroup

var (
	condReady      bool // never set: cond waiters wait for ever
	busyCounters   [2]uint64
	closureSink    int
	recursionSink  int
	genericIntSink int
	genericStrSink string
	syscallSink    int
	neverChan      = make(chan int) // nobody ever sends
	neverStrChan   = make(chan string)
	neverPoint     = make(chan Point)
	selectIntChan  = make(chan int) // only the select goroutine uses these two
	selectStrChan  = make(chan string)
	segvTarget     *Node // stays nil
)

//go:noinline
func blockChanSend(ch chan int) {
	parked.Done()
	ch <- 1
}

//go:noinline
func blockChanRecv(ch chan int) int {
	parked.Done()
	return <-ch
}

//go:noinline
func blockFullChanSend(ch chan string) {
	parked.Done()
	ch <- "third"
}

//go:noinline
func blockSelect(a chan int, b chan string) {
	parked.Done()
	select {
	case v := <-a:
		closureSink = v
	case b <- "never":
	}
}

//go:noinline
func blockSelectNoCases() {
	parked.Done()
	select {}
}

//go:noinline
func blockMutex(mu *sync.Mutex) {
	parked.Done()
	mu.Lock()
}

//go:noinline
func blockRLock(rw *sync.RWMutex) {
	parked.Done()
	rw.RLock()
}

//go:noinline
func blockWLock(rw *sync.RWMutex) {
	parked.Done()
	rw.Lock()
}

//go:noinline
func blockCond(c *sync.Cond) {
	c.L.Lock()
	parked.Done()
	for !condReady {
		c.Wait()
	}
	c.L.Unlock()
}

//go:noinline
func blockWaitGroup(wg *sync.WaitGroup) {
	parked.Done()
	wg.Wait()
}

//go:noinline
func blockSleep() {
	parked.Done()
	time.Sleep(1000 * time.Hour)
}

//go:noinline
func blockTimer() {
	t := time.NewTimer(1000 * time.Hour)
	parked.Done()
	<-t.C
}

//go:noinline
func blockTicker() {
	t := time.NewTicker(1000 * time.Hour)
	parked.Done()
	for range t.C {
		closureSink++
	}
}

// blockSyscallRead sits in read(2) on a pipe nobody writes to; the goroutine
// is in _Gsyscall and its thread is inside the kernel.
//
//go:noinline
func blockSyscallRead(fd int) {
	buf := make([]byte, 16)
	parked.Done()
	n, _ := syscall.Read(fd, buf)
	syscallSink = n
}

//go:noinline
func blockAccept(ln net.Listener) {
	parked.Done()
	conn, err := ln.Accept()
	if err == nil {
		conn.Close()
	}
}

//go:noinline
func blockLockedThread(ch chan int) {
	runtime.LockOSThread()
	parked.Done()
	closureSink = <-ch
}

//go:noinline
func busyWork(id int) {
	atomic.AddUint64(&busyCounters[id], 1)
}

//go:noinline
func busyLoop(id int) {
	parked.Done()
	for {
		busyWork(id)
	}
}

//go:noinline
func recurse(depth int, ch chan int) int {
	if depth == 0 {
		parked.Done()
		return <-ch
	}
	return recurse(depth-1, ch) + 1
}

// inlinedLeaf and inlinedMiddle are small enough for the inliner, so the
// parked stack has inlined frames (except in the -N -l flavour).
func inlinedLeaf(ch chan int) int {
	return <-ch + 1
}

func inlinedMiddle(ch chan int) int {
	return inlinedLeaf(ch) * 3
}

//go:noinline
func inlinedRoot(ch chan int) int {
	parked.Done()
	return inlinedMiddle(ch) - 1
}

//go:noinline
func genericWait[T any](label T, ch chan T) T {
	parked.Done()
	got := <-ch
	_ = label
	return got
}

//go:noinline
func labelledWait(ch chan int) {
	pprof.Do(context.Background(), pprof.Labels("zoo", "labelled", "kind", "pprof"), func(ctx context.Context) {
		parked.Done()
		closureSink = <-ch
		_ = ctx
	})
}

// chainLevel starts the next level before parking, so level 3 was created by
// level 2, which was created by level 1.
//
//go:noinline
func chainLevel(level int, ch chan int) {
	if level < 3 {
		parked.Add(1)
		go chainLevel(level+1, ch)
	}
	parked.Done()
	closureSink = <-ch + level
}

// holdLocals parks with locals of many kinds live across the wait, so they
// have stack slots and DWARF locations for value-printing tests.
//
//go:noinline
func holdLocals(ch chan int) {
	localInt := 1234
	localInt8 := int8(-5)
	localUint64 := uint64(1) << 63
	localFloat := 2.75
	localComplex := complex(1, 2)
	localBool := true
	localString := "local string"
	localUnicode := "ünïcödé 字"
	localSlice := []int{7, 8, 9}
	localArray := [3]string{"l1", "l2", "l3"}
	localMap := map[string]int{"a": 1, "b": 2}
	localStruct := Point{X: 100, Y: 200}
	localPtr := &Point{X: -1, Y: -2}
	localIface := interface{}(Rect{W: 1, H: 2})
	localShape := Shape(Rect{W: 6, H: 7})
	localErr := fmt.Errorf("local: %w", gError)
	localNilErr := error(nil)
	localChan := make(chan int, 3)
	localChan <- 5
	localFunc := func(x int) int { return x + localInt }
	localDuration := 3 * time.Second
	localColor := Blue
	localDerived := Derived{Base: Base{ID: 5}, Name: "local-derived"}
	parked.Done()
	got := <-ch
	runtime.KeepAlive(localInt + int(localInt8) + int(localUint64>>60) + got)
	runtime.KeepAlive(localFloat)
	runtime.KeepAlive(localComplex)
	runtime.KeepAlive(localBool)
	runtime.KeepAlive(localString + localUnicode)
	runtime.KeepAlive(localSlice)
	runtime.KeepAlive(localArray)
	runtime.KeepAlive(localMap)
	runtime.KeepAlive(localStruct)
	runtime.KeepAlive(localPtr)
	runtime.KeepAlive(localIface)
	runtime.KeepAlive(localShape)
	runtime.KeepAlive(localErr)
	runtime.KeepAlive(localNilErr)
	runtime.KeepAlive(localChan)
	runtime.KeepAlive(localFunc(1))
	runtime.KeepAlive(localDuration)
	runtime.KeepAlive(localColor)
	runtime.KeepAlive(localDerived)
}

//go:noinline
func segvDeref(n *Node) int {
	return n.Value + 1
}

//go:noinline
func segvWorker() {
	recursionSink = segvDeref(segvTarget)
}

// triggerPanic and panicNested give the panicking goroutine a recognisable
// stack: main.main -> main.triggerPanic -> main.panicNested.
//
//go:noinline
func triggerPanic(reason string) {
	panicNested(reason, 2)
}

//go:noinline
func panicNested(reason string, depth int) {
	if depth > 0 {
		panicNested(reason, depth-1)
		return
	}
	panic("goext-zoo: deliberate panic: " + reason)
}

// ---------------------------------------------------------------------------

// startWaiters starts goroutines that only wait on channels and locks; they
// alone are started in deadlock mode, where nothing else may keep an M busy.
func startWaiters() {
	parked.Add(1)
	go blockChanSend(gSendWaitChan)
	for i := 0; i < 2; i++ {
		parked.Add(1)
		go blockChanRecv(gRecvWaitChan)
	}
	parked.Add(1)
	go blockFullChanSend(gFullChan)
	parked.Add(1)
	go blockSelect(selectIntChan, selectStrChan)
	parked.Add(1)
	go blockSelectNoCases()
	parked.Add(1)
	go blockMutex(&gLockedMutex)
	parked.Add(1)
	go blockRLock(&gWriteLocked)
	parked.Add(1)
	go blockWLock(&gReadLocked)
	for i := 0; i < 2; i++ {
		parked.Add(1)
		go blockCond(gCond)
	}
	parked.Add(1)
	go blockWaitGroup(&gWaitGroup)
	parked.Add(1)
	go blockLockedThread(neverChan)
	parked.Add(1)
	go recurse(50, neverChan)
	parked.Add(1)
	go recurse(130, neverChan) // deeper than the runtime prints: frames are elided
	parked.Add(1)
	go inlinedRoot(neverChan)

	captured := 7
	parked.Add(1)
	go func() {
		parked.Done()
		closureSink = captured + <-neverChan
	}()
	parked.Add(1)
	go func(offset int) {
		inner := func() int {
			parked.Done()
			return <-neverChan + offset
		}
		closureSink = inner()
	}(3)

	parked.Add(2)
	go genericWait[int](1, neverChan)
	go genericWait[string]("label", neverStrChan)
	parked.Add(1)
	go genericWait[Point](Point{1, 2}, neverPoint)

	parked.Add(1)
	go labelledWait(neverChan)
	parked.Add(1)
	go chainLevel(1, neverChan)
	parked.Add(1)
	go holdLocals(neverChan)
}

// startTimedAndIO starts goroutines that wait on timers, the kernel or the
// network poller, and the busy loops.
func startTimedAndIO() {
	parked.Add(1)
	go blockSleep()
	parked.Add(1)
	go blockTimer()
	parked.Add(1)
	go blockTicker()

	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		fmt.Fprintln(os.Stderr, "zoo: pipe:", err)
		os.Exit(3)
	}
	parked.Add(1)
	go blockSyscallRead(fds[0])
	keep = append(keep, fds)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "zoo: listen:", err)
		os.Exit(3)
	}
	keep = append(keep, ln)
	parked.Add(1)
	go blockAccept(ln)

	for i := 0; i < 2; i++ {
		parked.Add(1)
		go busyLoop(i)
	}
}

// settle waits until every goroutine announced itself, then a little longer
// so each one is really parked in its blocking operation.
func settle() {
	parked.Wait()
	time.Sleep(300 * time.Millisecond)
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "panic":
		startWaiters()
		startTimedAndIO()
		settle()
		triggerPanic("all goroutines parked")
	case "segv":
		startWaiters()
		startTimedAndIO()
		settle()
		go segvWorker()
		<-neverChan
	case "wait":
		startWaiters()
		startTimedAndIO()
		settle()
		fmt.Fprintf(os.Stdout, "READY %d\n", os.Getpid())
		os.Stdout.Sync()
		<-neverChan
	case "deadlock":
		startWaiters()
		settle()
		<-neverChan
	default:
		fmt.Fprintf(os.Stderr, "usage: zoo panic|segv|wait|deadlock (got %q)\n", mode)
		os.Exit(2)
	}
	runtime.KeepAlive(keep)
}
