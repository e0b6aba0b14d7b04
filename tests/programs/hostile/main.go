// Command hostile holds strings that would drive a terminal if a debugger
// printed them raw: ESC sequences (screen clear, OSC 52 clipboard write,
// window title), BEL, C1 controls, Unicode bidi overrides and isolates, and
// HTML that would run script if a report page pasted it in.  They sit in
// global strings, map keys, pprof labels, error texts, locals and, through
// //line directives, in the file names of pclntab and DWARF.
//
// This file contains raw control characters on purpose: the //line directives
// at the end (their file name) and the comment in waitNearHostileSource (what
// "go list" shows).  Everything else spells them with escapes.
//
// Usage: hostile [panic|wait]
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

const (
	escClearScreen = "\x1b[2J\x1b[H"
	oscClipboard   = "\x1b]52;c;Z29leHQtcHduZWQ=\x07" // OSC 52: put "goext-pwned" on the clipboard
	oscTitle       = "\x1b]0;goext-title\x07"
	bell           = "\a"
	c1Sequence     = "\u009b31m\u0085\u009d" // C1 CSI, NEL and OSC
	bidiOverride   = "\u202eesrever\u202c"   // right-to-left override ... pop
	bidiIsolate    = "\u2066isolate\u2069\u200f\u061c\u200e"
	fakeLine       = "\ngoroutine 1 [running]:\r"
	delChar        = "\x7f"
	scriptClose    = "</script><script>alert(1)</script><!--"
	imgOnerror     = "<img src=x onerror=alert(1)>"
)

type hostileRecord struct {
	Name  string
	Notes []string
}

var (
	parked sync.WaitGroup
	never  = make(chan int)
	sink   int

	gHostileString = "goext-hostile:" + escClearScreen + oscClipboard + oscTitle + bell + c1Sequence + bidiOverride +
		bidiIsolate + fakeLine + delChar
	gHostileHTML = scriptClose + imgOnerror + "\" onmouseover=\"alert(2)\" '><a href=\"javascript:alert(3)\">"
	gHostileMap  = map[string]string{
		"key" + escClearScreen:  "value" + oscTitle,
		"clip" + oscClipboard:   "bell" + bell,
		"rlo" + bidiOverride:    "c1" + c1Sequence,
		"html" + imgOnerror:     scriptClose,
		"line" + fakeLine:       "del" + delChar,
		"isolate" + bidiIsolate: "plain",
	}
	gHostileSlice  = []string{oscTitle, bidiOverride, scriptClose, c1Sequence}
	gHostileRecord = &hostileRecord{Name: "record" + oscClipboard, Notes: []string{imgOnerror, bidiIsolate}}
	gHostileError  = errors.New("error text" + oscClipboard + bidiOverride + escClearScreen)
	gWrappedError  = fmt.Errorf("wrapped%s: %w", oscTitle, gHostileError)
)

//go:noinline
func labelledWait() {
	labels := pprof.Labels("label"+oscTitle, "value"+oscClipboard+bidiOverride, "html"+imgOnerror, scriptClose+c1Sequence)
	pprof.Do(context.Background(), labels, func(ctx context.Context) {
		parked.Done()
		sink = <-never
		_ = ctx
	})
}

//go:noinline
func holdHostileLocals() {
	localString := "local" + oscClipboard + bidiOverride
	localMap := map[string]int{"local-key" + escClearScreen: 1, "local" + imgOnerror: 2}
	localError := fmt.Errorf("local error%s: %w", c1Sequence, gHostileError)
	parked.Done()
	got := <-never
	runtime.KeepAlive(localString)
	runtime.KeepAlive(localMap)
	runtime.KeepAlive(localError)
	sink = got
}

// sleepLong keeps a timer pending, so the runtime never reports a deadlock in wait mode.
//
//go:noinline
func sleepLong() {
	parked.Done()
	time.Sleep(1000 * time.Hour)
}

//go:noinline
func waitNearHostileSource() {
	parked.Done()
	// raw in the source: [2J]0;goext-title ‮esrever‬ ⁦isolate⁩ ‏mark
	sink = <-never
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	parked.Add(5) // labelledWait, holdHostileLocals, waitNearHostileSource, waitInHostileFile, sleepLong
	go labelledWait()
	go holdHostileLocals()
	go waitNearHostileSource()
	go startFromHostileFile()
	go sleepLong()
	parked.Wait()
	time.Sleep(300 * time.Millisecond)
	runtime.KeepAlive(gHostileString + gHostileHTML)
	runtime.KeepAlive(gHostileMap)
	runtime.KeepAlive(gHostileSlice)
	runtime.KeepAlive(gHostileRecord)
	runtime.KeepAlive(gWrappedError)
	switch mode {
	case "panic":
		crashInHostileFile()
	case "wait":
		fmt.Fprintf(os.Stdout, "READY %d\n", os.Getpid())
		os.Stdout.Sync()
		<-never
	default:
		fmt.Fprintf(os.Stderr, "usage: hostile panic|wait (got %q)\n", mode)
		os.Exit(2)
	}
}

// From here on, positions belong to a file whose name is hostile.
//line evil]52;c;Z29leHQtcHduZWQ=]0;goext-title[2J31m‮og.elif:100
func startFromHostileFile() {
	go waitInHostileFile()
}

//go:noinline
func waitInHostileFile() {
	parked.Done()
	sink = <-never
}

//go:noinline
func crashInHostileFile() {
	panic("goext-hostile: deliberate panic")
}
