// Command locals parks goroutines in functions whose local variables hold
// values of every kind of Go type, and prints the truth about every one of
// them (computed by Go itself, through reflect) before it crashes, so a test
// can check each value a debugger prints against what the program held.
//
// It must build with every Go release from 1.19 on (see ../README.md).
//
// Usage: locals panic
//
// Before panicking it prints one line "TRUTH {json}" on stdout: for each
// parking function (by its runtime name), each variable's Go name and a
// description of its value ("k" is the kind; see describe).  A shadowed
// variable is listed as "(x)" next to the "x" that shadows it.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// ---------------------------------------------------------------------------
// Types.

type Celsius float64

type Color int

type Point struct {
	X, Y int
}

type Line struct {
	A, B  Point
	Label string
}

type Base struct {
	ID  int
	Tag string
}

type Inner struct {
	A, B int32
}

type Derived struct {
	Base
	*Inner
	Name   string
	Scores []int
}

type Mixed struct {
	Flag    bool
	Small   int8
	Big     uint64
	Ratio   float32
	Name    string
	Tags    []string
	Counts  map[string]int
	Where   *Point
	Any     interface{}
	Err     error
	Corners [2]Point
}

type Shape interface {
	Area() int
}

type Rect struct {
	W, H int
}

func (r Rect) Area() int { return r.W * r.H }

type MyErr struct {
	Code int
	Op   string
}

func (e *MyErr) Error() string { return e.Op + " failed: " + strconv.Itoa(e.Code) }

// ---------------------------------------------------------------------------
// The truth: a description of a value, computed by reflect from the value.

func describe(v reflect.Value, depth int) map[string]interface{} {
	if depth > 6 {
		return map[string]interface{}{"k": "deep"}
	}
	switch v.Kind() {
	case reflect.Bool:
		return map[string]interface{}{"k": "bool", "v": strconv.FormatBool(v.Bool())}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]interface{}{"k": "int", "v": strconv.FormatInt(v.Int(), 10)}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]interface{}{"k": "uint", "v": strconv.FormatUint(v.Uint(), 10)}
	case reflect.Float32:
		return map[string]interface{}{"k": "float", "v": strconv.FormatFloat(v.Float(), 'g', -1, 32), "bits": 32}
	case reflect.Float64:
		return map[string]interface{}{"k": "float", "v": strconv.FormatFloat(v.Float(), 'g', -1, 64), "bits": 64}
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		bits := 64
		if v.Kind() == reflect.Complex64 {
			bits = 32
		}
		return map[string]interface{}{
			"k": "complex", "re": strconv.FormatFloat(real(c), 'g', -1, bits),
			"im": strconv.FormatFloat(imag(c), 'g', -1, bits), "bits": bits,
		}
	case reflect.String:
		return map[string]interface{}{"k": "string", "v": v.String()}
	case reflect.Slice:
		if v.IsNil() {
			return map[string]interface{}{"k": "slice", "nil": true}
		}
		return map[string]interface{}{"k": "slice", "len": v.Len(), "cap": v.Cap(), "elems": elems(v, depth)}
	case reflect.Array:
		return map[string]interface{}{"k": "array", "elems": elems(v, depth)}
	case reflect.Map:
		if v.IsNil() {
			return map[string]interface{}{"k": "map", "nil": true}
		}
		entries := [][]interface{}{}
		iter := v.MapRange()
		for iter.Next() {
			entries = append(entries, []interface{}{describe(iter.Key(), depth+1), describe(iter.Value(), depth+1)})
		}
		return map[string]interface{}{"k": "map", "len": v.Len(), "entries": entries}
	case reflect.Ptr:
		if v.IsNil() {
			return map[string]interface{}{"k": "ptr", "nil": true}
		}
		return map[string]interface{}{"k": "ptr", "addr": hex(v.Pointer()), "elem": describe(v.Elem(), depth+1)}
	case reflect.Struct:
		fields := [][]interface{}{}
		for i := 0; i < v.NumField(); i++ {
			fields = append(fields, []interface{}{v.Type().Field(i).Name, describe(v.Field(i), depth+1)})
		}
		return map[string]interface{}{"k": "struct", "fields": fields}
	case reflect.Interface:
		if v.IsNil() {
			return map[string]interface{}{"k": "iface", "nil": true}
		}
		return map[string]interface{}{"k": "iface", "type": v.Elem().Type().String(), "v": describe(v.Elem(), depth+1)}
	case reflect.Chan:
		if v.IsNil() {
			return map[string]interface{}{"k": "chan", "nil": true}
		}
		return map[string]interface{}{"k": "chan", "len": v.Len(), "cap": v.Cap(), "addr": hex(v.Pointer())}
	case reflect.Func:
		if v.IsNil() {
			return map[string]interface{}{"k": "func", "nil": true}
		}
		return map[string]interface{}{"k": "func", "name": runtime.FuncForPC(v.Pointer()).Name()}
	case reflect.UnsafePointer:
		return map[string]interface{}{"k": "uptr", "v": hex(v.Pointer())}
	}
	return map[string]interface{}{"k": "deep"}
}

func elems(v reflect.Value, depth int) []interface{} {
	out := []interface{}{}
	for i := 0; i < v.Len(); i++ {
		out = append(out, describe(v.Index(i), depth+1))
	}
	return out
}

func hex(p uintptr) string { return "0x" + strconv.FormatUint(uint64(p), 16) }

// d describes a value of a non-interface type.
func d(x interface{}) map[string]interface{} { return describe(reflect.ValueOf(x), 0) }

// di describes a value of an interface type (d would see its dynamic value only).
func di(x interface{}) map[string]interface{} {
	if x == nil {
		return map[string]interface{}{"k": "iface", "nil": true}
	}
	return map[string]interface{}{"k": "iface", "type": reflect.TypeOf(x).String(), "v": d(x)}
}

// derr describes an error variable.
func derr(e error) map[string]interface{} {
	if e == nil {
		return map[string]interface{}{"k": "iface", "nil": true}
	}
	return map[string]interface{}{"k": "iface", "type": reflect.TypeOf(e).String(), "v": d(e)}
}

// ---------------------------------------------------------------------------
// Parking.

var (
	truthMu sync.Mutex
	truth   = map[string]map[string]interface{}{}
	parked  sync.WaitGroup
	block   = make(chan int)
	leak    []interface{}
	gSink   int
)

// record stores the truth of the caller's variables under the caller's
// runtime name (or under name when it is given).
//
//go:noinline
func record(name string, vars map[string]interface{}) {
	if name == "" {
		pc, _, _, _ := runtime.Caller(1)
		name = runtime.FuncForPC(pc).Name()
	}
	truthMu.Lock()
	truth[name] = vars
	truthMu.Unlock()
	parked.Done()
}

//go:noinline
func sink(values ...interface{}) {
	leak = append(leak, values...)
}

//go:noinline
func parkScalars(seed int) {
	i := -42 + seed
	i8 := int8(-128)
	i8b := int8(127)
	i16 := int16(-32768)
	i16b := int16(12345)
	i32 := int32(-2147483648)
	i32b := int32(-320000)
	i64 := int64(-9223372036854775808)
	i64b := int64(6400000000)
	u := uint(42 + seed)
	u8 := uint8(255)
	u16 := uint16(65535)
	u32 := uint32(4294967295)
	u64 := uint64(18446744073709551615)
	u64b := uint64(18000000000000000000)
	up := uintptr(0xdeadbeef)
	b := byte('g')
	r := rune('世')
	f32 := float32(3.25)
	f32b := float32(-1.0e-7)
	f64 := -2.5e10
	f64b := math.Pi
	f64c := math.Inf(1)
	f64d := 1e100
	f64e := 0.1
	c64 := complex64(complex(1.5, -2))
	c128 := complex(-3.25, 4.5)
	t := true
	fl := false
	s := "hello, locals"
	empty := ""
	uni := "héllo, 世界 🦫"
	long := "0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghijklmnopqrstuvwxyz"
	cel := Celsius(36.6)
	col := Color(2)
	dur := time.Duration(90 * time.Second)
	record("", map[string]interface{}{
		"seed": d(seed), "i": d(i), "i8": d(i8), "i8b": d(i8b), "i16": d(i16), "i16b": d(i16b), "i32": d(i32),
		"i32b": d(i32b), "i64": d(i64), "i64b": d(i64b), "u": d(u), "u8": d(u8), "u16": d(u16), "u32": d(u32),
		"u64": d(u64), "u64b": d(u64b), "up": d(up), "b": d(b), "r": d(r), "f32": d(f32), "f32b": d(f32b),
		"f64": d(f64), "f64b": d(f64b), "f64c": d(f64c), "f64d": d(f64d), "f64e": d(f64e), "c64": d(c64),
		"c128": d(c128), "t": d(t), "fl": d(fl), "s": d(s), "empty": d(empty), "uni": d(uni), "long": d(long),
		"cel": d(cel), "col": d(col), "dur": d(dur),
	})
	<-block
	sink(seed, i, i8, i8b, i16, i16b, i32, i32b, i64, i64b, u, u8, u16, u32, u64, u64b, up, b, r, f32, f32b,
		f64, f64b, f64c, f64d, f64e, c64, c128, t, fl, s, empty, uni, long, cel, col, dur)
}

//go:noinline
func parkComposites(seed int) {
	nilSlice := []int(nil)
	emptySlice := []int{}
	ints := []int32{10 + int32(seed), 20, 30, 40}
	strs := []string{"alpha", "beta", "gamma"}
	bytesv := []byte("bytes\x00\xff")
	sub := []int{1, 2, 3, 4, 5}[1:3]
	nested := [][]int{{1}, {2, 3}, {}}
	points := []Point{{1, 2}, {3, 4}}
	ptrs := []*Point{{5, 6}, nil}
	arr := [5]int{10, 20, 30, 40, 50}
	sarr := [3]string{"x", "yy", "zzz"}
	matrix := [2][3]int{{1, 2, 3}, {4, 5, 6}}
	earr := [0]int{}
	barr := [4]bool{true, false, true, true}
	parr := [2]Point{{7, 8}, {9, 10}}
	nilMap := map[string]int(nil)
	emptyMap := map[string]int{}
	smallMap := map[string]int{"one": 1, "two": 2, "three": 3}
	intMap := map[int]string{1: "a", 2: "b"}
	pointMap := map[Point]string{{1, 2}: "p12", {3, 4}: "p34"}
	structMap := map[string]Point{"origin": {0, 0}, "unit": {1, 1}}
	sliceMap := map[string][]int{"evens": {2, 4}, "none": nil}
	pt := Point{100 + seed, 200}
	line := Line{Point{1, 2}, Point{3, 4}, "diagonal"}
	derived := Derived{Base{99, "embedded"}, &Inner{1, 2}, "derived", []int{90, 80}}
	derivedNil := Derived{Base: Base{ID: 5}, Name: "no inner"}
	mixed := Mixed{
		Flag: true, Small: -3, Big: 1 << 60, Ratio: 0.5, Name: "mixed", Tags: []string{"a", "b"},
		Counts: map[string]int{"k": 1}, Where: &Point{-1, -2}, Any: 7, Err: errors.New("inner"),
		Corners: [2]Point{{0, 0}, {2, 2}},
	}
	emptyStruct := struct{}{}
	anon := struct {
		A int
		B string
	}{1, "anon"}
	nilPtr := (*int)(nil)
	target := 77
	intPtr := &target
	pointPtr := &Point{21, 22}
	ptrPtr := &intPtr
	runes := []rune("héllo")
	floats := []float32{0.5, -1.25}
	anys := []interface{}{1, "two", nil, Point{5, 6}}
	errs := []error{nil, errors.New("in a slice")}
	mapOfMaps := map[string]map[string]int{"outer": {"inner": 1}}
	u8arr := [3]uint8{1, 2, 255}
	record("", map[string]interface{}{
		"runes": d(runes), "floats": d(floats), "anys": d(anys), "errs": d(errs), "mapOfMaps": d(mapOfMaps),
		"u8arr": d(u8arr),
		"seed": d(seed), "nilSlice": d(nilSlice), "emptySlice": d(emptySlice), "ints": d(ints), "strs": d(strs),
		"bytesv": d(bytesv), "sub": d(sub), "nested": d(nested), "points": d(points), "ptrs": d(ptrs),
		"arr": d(arr), "sarr": d(sarr), "matrix": d(matrix), "earr": d(earr), "barr": d(barr), "parr": d(parr),
		"nilMap": d(nilMap), "emptyMap": d(emptyMap), "smallMap": d(smallMap), "intMap": d(intMap),
		"pointMap": d(pointMap), "structMap": d(structMap), "sliceMap": d(sliceMap), "pt": d(pt),
		"line": d(line), "derived": d(derived), "derivedNil": d(derivedNil), "mixed": d(mixed),
		"emptyStruct": d(emptyStruct), "anon": d(anon), "nilPtr": d(nilPtr), "target": d(target),
		"intPtr": d(intPtr), "pointPtr": d(pointPtr), "ptrPtr": d(ptrPtr),
	})
	<-block
	sink(seed, nilSlice, emptySlice, ints, strs, bytesv, sub, nested, points, ptrs, arr, sarr, matrix, earr, barr,
		parr, nilMap, emptyMap, smallMap, intMap, pointMap, structMap, sliceMap, pt, line, derived, derivedNil, mixed,
		emptyStruct, anon, nilPtr, target, intPtr, pointPtr, ptrPtr, runes, floats, anys, errs, mapOfMaps, u8arr)
}

func topLevel(x int) int { return x + 1 }

//go:noinline
func parkInterfaces(seed int) {
	var nilAny interface{}
	anyInt := interface{}(42 + seed)
	anyString := interface{}("boxed")
	anyPoint := interface{}(Point{11, 12})
	anyPtr := interface{}(&Point{13, 14})
	anySlice := interface{}([]string{"in", "iface"})
	anyMap := interface{}(map[string]bool{"yes": true})
	var nilErr error
	plainErr := errors.New("plain error")
	wrapped := fmt.Errorf("wrapped: %w", plainErr)
	myErr := error(&MyErr{7, "feeding"})
	typedNil := error((*MyErr)(nil))
	shape := Shape(Rect{3, 4})
	var nilShape Shape
	stringer := fmt.Stringer(time.Duration(1500))
	nilChan := (chan int)(nil)
	bufChan := make(chan int, 8)
	bufChan <- 101
	bufChan <- 102
	unbufChan := make(chan string)
	closedChan := make(chan struct{})
	close(closedChan)
	nilFunc := (func())(nil)
	fn := topLevel
	closure := func() int { return seed * 2 }
	method := Rect{1, 2}.Area
	uptr := unsafe.Pointer(&Point{1, 1})
	nilUptr := unsafe.Pointer(nil)
	record("", map[string]interface{}{
		"seed": d(seed), "nilAny": di(nilAny), "anyInt": di(anyInt), "anyString": di(anyString),
		"anyPoint": di(anyPoint), "anyPtr": di(anyPtr), "anySlice": di(anySlice), "anyMap": di(anyMap),
		"nilErr": derr(nilErr), "plainErr": derr(plainErr), "wrapped": derr(wrapped), "myErr": derr(myErr),
		"typedNil": derr(typedNil), "shape": di(shape), "nilShape": di(nilShape), "stringer": di(stringer),
		"nilChan": d(nilChan), "bufChan": d(bufChan), "unbufChan": d(unbufChan), "closedChan": d(closedChan),
		"nilFunc": d(nilFunc), "fn": d(fn), "closure": d(closure), "method": d(method), "uptr": d(uptr),
		"nilUptr": d(nilUptr),
	})
	<-block
	sink(seed, nilAny, anyInt, anyString, anyPoint, anyPtr, anySlice, anyMap, nilErr, plainErr, wrapped, myErr,
		typedNil, shape, nilShape, stringer, nilChan, bufChan, unbufChan, closedChan, nilFunc, fn, closure, method,
		uptr, nilUptr)
}

var (
	escapedInt    *int
	escapedString *string
	escapedPoint  *Point
	escapedSlice  *[]string
	escapedMap    *map[string]int
	escapedArray  *[3]int
)

// parkEscaped's variables have their address stored in globals: the compiler
// moves them to the heap, and DWARF names them "&x".
//
//go:noinline
func parkEscaped(seed int) {
	heapInt := 41 + seed
	heapString := "on the heap"
	heapPoint := Point{31, 32}
	heapSlice := []string{"h1", "h2"}
	heapMap := map[string]int{"heap": 1}
	heapArray := [3]int{7, 8, 9}
	escapedInt, escapedString, escapedPoint = &heapInt, &heapString, &heapPoint
	escapedSlice, escapedMap, escapedArray = &heapSlice, &heapMap, &heapArray
	record("", map[string]interface{}{
		"seed": d(seed), "heapInt": d(heapInt), "heapString": d(heapString), "heapPoint": d(heapPoint),
		"heapSlice": d(heapSlice), "heapMap": d(heapMap), "heapArray": d(heapArray),
	})
	<-block
	sink(seed, heapInt, heapString, heapPoint, heapSlice, heapMap, heapArray)
}

// parkShadowed parks inside nested blocks that redeclare x and y.
//
//go:noinline
func parkShadowed(seed int) {
	x := 1 + seed
	y := "outer y"
	z := 3.5
	if seed >= 0 {
		x := "inner x"
		w := []int{seed, 2}
		for k := 0; k < 1+seed; k++ {
			y := Point{k, k + 10}
			record("", map[string]interface{}{
				"seed": d(seed), "(x)": d(0 + 1 + seed), "x": d(x), "(y)": d("outer y"), "y": d(y), "z": d(z),
				"w": d(w), "k": d(k),
			})
			<-block
			sink(x, y, w, k)
		}
	}
	sink(x, y, z)
}

// parkClosure starts a closure that captures one variable by value and one
// by reference (it is changed after the closure is made, before it runs).
//
//go:noinline
func parkClosure(seed int) {
	byValue := 5 + seed
	label := "captured"
	counter := 0
	done := make(chan bool)
	run := func() {
		local := byValue * 2
		counter++
		record("", map[string]interface{}{
			"byValue": d(byValue), "label": d(label), "counter": d(counter), "local": d(local),
		})
		<-block
		sink(byValue, label, counter, local)
		done <- true
	}
	counter += 10 // changed after the closure captured it: captured by reference
	go run()
	<-done
}

// inlineMe is small enough for the compiler to inline into parkInlined
// (except with -l): its variables then live in parkInlined's frame.
func inlineMe(p, q int) int {
	r := p*3 + q
	<-block
	gSink += r
	return r + p
}

//go:noinline
func parkInlined(seed int) {
	a := 6 + seed
	b := a * 7
	record("", map[string]interface{}{"seed": d(seed), "a": d(a), "b": d(b)})
	truthMu.Lock()
	truth["main.inlineMe"] = map[string]interface{}{"p": d(a), "q": d(b), "r": d(a*3 + b)}
	truthMu.Unlock()
	c := inlineMe(a, b)
	sink(a, b, c)
}

// parkLive computes its values at run time and uses them after the wait, so
// an optimized build keeps them alive across the call (in stack slots).
//
//go:noinline
func parkLive(n int, word string, xs []int, pt *Point, err error, m map[string]int) (total int, msg string) {
	tripled := n * 3
	shout := word + "!"
	tail := xs[1:]
	moved := Point{pt.X + n, pt.Y - n}
	count := len(m)
	first := xs[0]
	ratio := float64(n) / 4
	isBig := n > 100
	wrapped := fmt.Errorf("live: %w", err)
	half := n / 2
	neg := -n
	mask := uint16(n) << 3
	twice := word + word
	pair := [2]int{n, first}
	movedPtr := &moved
	letters := []byte(word)
	small := int8(n)
	record("", map[string]interface{}{
		"half": d(half), "neg": d(neg), "mask": d(mask), "twice": d(twice), "pair": d(pair),
		"movedPtr": d(movedPtr), "letters": d(letters), "small": d(small),
		"n": d(n), "word": d(word), "xs": d(xs), "pt": d(pt), "err": derr(err), "m": d(m), "tripled": d(tripled),
		"shout": d(shout), "tail": d(tail), "moved": d(moved), "count": d(count), "first": d(first),
		"ratio": d(ratio), "isBig": d(isBig), "wrapped": derr(wrapped), "total": d(0), "msg": d(""),
	})
	<-block
	total = tripled + len(shout) + len(tail) + moved.X + count + first + int(ratio)
	if isBig {
		total++
	}
	msg = wrapped.Error() + word
	sink(n, word, xs, pt, err, m, half, neg, mask, twice, pair, movedPtr, letters, small)
	return total, msg
}

type Entry struct {
	Key string
	Val float64
}

// parkReused's fallback is dead once pairs is made: optimized builds give its
// stack slots to v (of the same type) after the map lookup, while fallback's
// location list still says it is there.
//
//go:noinline
func parkReused(items map[int]Entry, key int, fallback Entry) (Entry, bool) {
	described := d(fallback)
	pairs := []Entry{fallback}
	truthMu.Lock()
	v, ok := items[key]
	truthMu.Unlock()
	gSink += len(fallback.Key) + int(fallback.Val) // fallback's last use: its slots are free from here
	record("", map[string]interface{}{
		"items": d(items), "key": d(key), "fallback": described, "pairs": d(pairs), "v": d(v), "ok": d(ok),
	})
	<-block
	sink(pairs, v, ok)
	return v, ok
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if mode != "panic" {
		fmt.Fprintf(os.Stderr, "usage: locals panic (got %q)\n", mode)
		os.Exit(2)
	}
	seed := len(os.Args) - 2 // 0, but not a constant the compiler could fold
	parked.Add(9)
	go parkScalars(seed)
	go parkComposites(seed)
	go parkInterfaces(seed)
	go parkEscaped(seed)
	go parkShadowed(seed)
	go parkClosure(seed)
	go parkInlined(seed)
	go parkLive(7+seed, "live", []int{3, 1, 4, 1, 5}, &Point{2, 9}, errors.New("cause"), map[string]int{"a": 1, "b": 2})
	go parkReused(map[int]Entry{7: {"seven", 7.5}}, 7+seed, Entry{"none", -1})
	parked.Wait()
	blob, err := json.Marshal(truth)
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(os.Stdout, "TRUTH %s\n", blob)
	time.Sleep(300 * time.Millisecond)
	panic("goext-locals: deliberate panic, every goroutine parked")
}
