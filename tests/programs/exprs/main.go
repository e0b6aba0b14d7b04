// exprs holds values for the Go expression tests (tests/test_expressions.py):
// maps keyed by every comparable kind, embedding at several depths (shallow
// beats deep, ambiguous at one depth, through pointers, self-embedding),
// interfaces, strings, slices, arrays, pointers to arrays, unsafe.Pointer,
// complex numbers and escaped locals.  Mode "panic": once every goroutine has
// parked, main panics (GOTRACEBACK=crash leaves a core).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

type Point struct {
	X, Y int
}

type Labelled struct {
	Name  string
	Point Point
	Tags  [2]int8
}

// Inner is reached at depth 2 from Outer (through *Middle).
type Inner struct {
	Deep   int
	Shared string
	Name   string
}

type Middle struct {
	Inner
	Mid    int
	Shared string // depth 1 from Outer: beats Inner.Shared at depth 2
}

type Left struct {
	Dup      int
	LeftOnly int
}

type Right struct {
	Dup int // Left.Dup and Right.Dup are both at depth 1: ambiguous
}

type Outer struct {
	*Middle
	Left
	Right
	Name string // depth 0: beats Inner.Name
}

// Self embeds a pointer to its own type.
type Self struct {
	*Self
	Val int
}

type Shape interface {
	Area() int
}

type Rect struct {
	W, H int
}

func (r *Rect) Area() int { return r.W * r.H }

type Celsius float64

type Config struct {
	Name   string
	Limits map[string]int
}

type BigKey [20]int64 // over 128 bytes: stored indirectly in map buckets and slots

var (
	gInts      = map[int]string{1: "one", 42: "forty-two", -7: "minus seven"}
	gStrs      = map[string]int{"rps": 100, "burst": 20, "": -1}
	gPoints    = map[Point]string{{X: 1, Y: 2}: "a", {X: 3, Y: 4}: "b"}
	gArrKeys   = map[[2]int]bool{{1, 2}: true, {0, 0}: false}
	gFloats    = map[float64]string{1.5: "one and a half", -2: "minus two"}
	gBools     = map[bool]int{true: 1, false: 0}
	gRunes     = map[rune]int{'a': 97, 'é': 233}
	gIfaceKeys = map[interface{}]string{1: "int one", "s": "string s", Point{X: 5, Y: 6}: "a point", nil: "nil key", 2.5: "float"}
	gLabelKeys = map[Labelled]int{{Name: "l", Point: Point{X: 1, Y: 1}, Tags: [2]int8{-1, 1}}: 7}
	gBigKeys   = map[BigKey]int{{1}: 1, {2, 3}: 23}
	gPoint     = Point{X: 11, Y: 22}
	gPtrKeys   = map[*Point]int{&gPoint: 9}
	gNested    = map[string]map[string]int{"outer": {"inner": 5}}
	gCfg       = Config{Name: "cfg", Limits: map[string]int{"rps": 10, "conns": 3}}
	gCfgPtr    = &gCfg
	gManyInts  map[int]int
	gNilMap    map[string]int

	gStr      = "héllo, world"
	gEmptyStr = ""
	gSlice    = []int{10, 20, 30, 40, 50}
	gSubSlice = gSlice[1:3]
	gMatrix   = [][]int{{1, 2}, {3, 4}}
	gBytes    = []byte("bytes!")
	gArr      = [5]int{1, 2, 3, 4, 5}
	gArrPtr   = &gArr
	gPoints2  = []Point{{X: 1, Y: 2}, {X: 3, Y: 4}}
	gNilSlice []int

	gShape     Shape = &Rect{W: 3, H: 4}
	gAny       interface{} = Point{X: 7, Y: 8}
	gAnyInt    interface{} = 42
	gAnyStr    interface{} = "boxed"
	gNilAny    interface{}
	gNilPtr    *Point
	gPointPtr  = &gPoint
	gPointPtr2 = &gPointPtr

	gComplex           = complex(1.5, -2)
	gComplex64 complex64 = complex(3, 4)
	gUnsafe            = unsafe.Pointer(&gPoint)
	gUintptr           = uintptr(unsafe.Pointer(&gPoint))
	gCelsius   Celsius = 36.6
	gInt       = 7
	gNeg       = -3
	gUint8     uint8 = 200
	gBool      = true

	gOuter = Outer{
		Middle: &Middle{Inner: Inner{Deep: 3, Shared: "inner", Name: "inner-name"}, Mid: 2, Shared: "middle"},
		Left:   Left{Dup: 1, LeftOnly: 11},
		Right:  Right{Dup: 2},
		Name:   "outer",
	}
	gOuterNilMiddle = Outer{Name: "no middle"}
	gSelf           = &Self{Self: &Self{Val: 2}, Val: 1}
	gSelfValue      = Self{Val: 5}

	sink   interface{}
	parked sync.WaitGroup
	never  = make(chan int)
)

// holdExprs parks with locals live across the wait; escaped is moved to the
// heap (its address is kept in sink), so DWARF names it "&escaped".
//
//go:noinline
func holdExprs(ch chan int) {
	escaped := Point{X: 5, Y: 6}
	sink = &escaped
	localInt := 3
	localStr := "local"
	localSlice := []string{"a", "b", "c"}
	localMap := map[string]Point{"p": {X: 8, Y: 9}}
	localOuter := Outer{Middle: &Middle{Mid: 4}, Name: "local-outer"}
	localShape := Shape(&Rect{W: 5, H: 6})
	parked.Done()
	got := <-ch
	runtime.KeepAlive(localInt + got)
	runtime.KeepAlive(localStr)
	runtime.KeepAlive(localSlice)
	runtime.KeepAlive(localMap)
	runtime.KeepAlive(localOuter)
	runtime.KeepAlive(localShape)
	runtime.KeepAlive(escaped)
}

// holdClosure parks inside a closure literal it calls directly.  Optimized
// builds inline the closure: DWARF lists no variables for the inlined call,
// and the ones it captured (count, words) are holdClosure's own, in the same
// physical frame.  Its string argument is spilled in DWARF pieces.
//
//go:noinline
func holdClosure(tag string, ch chan int) {
	count := 3 + len(tag)
	words := []string{"p", "q"}
	func() {
		count++
		words = append(words, tag)
		parked.Done()
		<-ch
	}()
	sink = []interface{}{count, words, tag}
}

// keepAll references every global so the linker keeps them (and their DWARF).
func keepAll() {
	sink = []interface{}{
		&gInts, &gStrs, &gPoints, &gArrKeys, &gFloats, &gBools, &gRunes, &gIfaceKeys, &gLabelKeys,
		&gBigKeys, &gPoint, &gPtrKeys, &gNested, &gCfg, &gCfgPtr, &gManyInts, &gNilMap,
		&gStr, &gEmptyStr, &gSlice, &gSubSlice, &gMatrix, &gBytes, &gArr, &gArrPtr, &gPoints2, &gNilSlice,
		&gShape, &gAny, &gAnyInt, &gAnyStr, &gNilAny, &gNilPtr, &gPointPtr, &gPointPtr2,
		&gComplex, &gComplex64, &gUnsafe, &gUintptr, &gCelsius, &gInt, &gNeg, &gUint8, &gBool,
		&gOuter, &gOuterNilMiddle, &gSelf, &gSelfValue,
	}
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	gManyInts = make(map[int]int)
	for i := 0; i < 300; i++ {
		gManyInts[i] = i * i
	}
	parked.Add(2)
	go holdExprs(never)
	go holdClosure("dir", never)
	parked.Wait()
	time.Sleep(300 * time.Millisecond)
	keepAll()
	switch mode {
	case "panic":
		panic("goext-exprs: deliberate panic")
	default:
		fmt.Fprintf(os.Stderr, "usage: exprs panic (got %q)\n", mode)
		os.Exit(2)
	}
}
