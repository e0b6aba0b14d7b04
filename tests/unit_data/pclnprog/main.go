// Command pclnprog is a test fixture for the pc/line table reader.
//
// It records stacks from inside inlined call chains and, as an oracle, prints
// what the Go runtime itself reports for them (runtime.Callers plus
// runtime.CallersFrames, runtime.FuncForPC, runtime/debug.Stack).
//
// Modes (first argument):
//
//	callers            "MAIN <run-time address of main.main>", then one "STACK" block per
//	                   recorded stack: "pc<TAB>function<TAB>file<TAB>line", one line per pc
//	                   runtime.Callers returned, resolved alone by runtime.CallersFrames
//	funcforpc ADDR     ADDR is the link-time address of main.main; reads link-time pcs
//	                   (hex, one a line) from stdin and prints
//	                   "pc<TAB>name<TAB>entry<TAB>file<TAB>line" for each
//	stack              "MAIN <run-time address of main.main>", then runtime/debug.Stack()
//	                   taken inside an inlined chain
package main

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"example.com/pclnprog/sub"
)

var stacks [][]uintptr
var stackText string

//go:noinline
func record() {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(0, pcs)
	stacks = append(stacks, pcs[:n])
}

//go:noinline
func recordText() {
	stackText = string(debug.Stack())
}

// leaf, middle and top are small: the compiler inlines them into outer.
func leaf(x int) int {
	record()
	return x + 1
}

func middle(x int) int {
	return leaf(x) * 2
}

func top(x int) int {
	return middle(x) - 3
}

//go:noinline
func outer(x int) int {
	y := top(x)
	return y + top(y)
}

type counter struct{ n int }

func (c *counter) bump() {
	c.n++
	record()
}

//go:noinline
func useCounter() int {
	c := &counter{}
	c.bump()
	return c.n
}

//go:noinline
func mapInts[T any](xs []T, f func(T) T) []T {
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

//go:noinline
func deferred() (r int) {
	defer func() {
		record()
		r = 7
	}()
	return 1
}

//go:noinline
func viaOtherPackage() int {
	n := 0
	sub.Twice(func() { n++; record() })
	return sub.Apply(n, func(v int) int { return middle(v) })
}

//go:noinline
func textChain(x int) int {
	return textLeaf(x) + 1
}

func textLeaf(x int) int {
	recordText()
	return x * 3
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pclnprog callers|funcforpc ADDR|stack")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "callers":
		outer(1)
		useCounter()
		mapInts([]int{1, 2}, func(v int) int { record(); return v })
		mapInts([]string{"a"}, func(v string) string { record(); return v })
		deferred()
		viaOtherPackage()
		done := make(chan bool)
		go func() { outer(5); done <- true }()
		<-done
		fmt.Printf("MAIN %#x\n", reflect.ValueOf(main).Pointer())
		for _, pcs := range stacks {
			fmt.Println("STACK")
			for _, pc := range pcs {
				// One pc at a time: the frame the runtime reports for it alone.
				frames := runtime.CallersFrames([]uintptr{pc})
				f, _ := frames.Next()
				fmt.Printf("%#x\t%s\t%s\t%d\n", pc, f.Function, f.File, f.Line)
			}
		}
	case "funcforpc":
		link, err := strconv.ParseUint(strings.TrimPrefix(os.Args[2], "0x"), 16, 64)
		if err != nil {
			panic(err)
		}
		bias := uint64(reflect.ValueOf(main).Pointer()) - link
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			pc, err := strconv.ParseUint(strings.TrimPrefix(in.Text(), "0x"), 16, 64)
			if err != nil {
				panic(err)
			}
			f := runtime.FuncForPC(uintptr(pc + bias))
			if f == nil {
				fmt.Printf("%#x\t?\t0\t?\t0\n", pc)
				continue
			}
			file, line := f.FileLine(uintptr(pc + bias))
			fmt.Printf("%#x\t%s\t%#x\t%s\t%d\n", pc, f.Name(), uint64(f.Entry())-bias, file, line)
		}
	case "stack":
		textChain(4)
		fmt.Printf("MAIN %#x\n", uint64(reflect.ValueOf(main).Pointer()))
		fmt.Print(stackText)
	}
}
