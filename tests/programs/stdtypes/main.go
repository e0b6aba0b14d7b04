// Command stdtypes holds values of the standard-library types goext prints
// specially (times in several zones, big numbers, addresses, URLs, regexps,
// reflect values, sync and atomic types, context chains, builders and
// buffers) in globals and in the locals of a parked goroutine.  Before it
// crashes it prints the truth, from the types' own String methods and
// accessors, one "TRUTH name<TAB>text" line per value.
//
// Usage: stdtypes [panic|wait]
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // the zones below load without the machine's tzdata
)

type point struct{ X, Y int }

type ctxKey string

// customCtx is a Context implementation of the program's own.
type customCtx struct{ context.Context }

var (
	parked sync.WaitGroup
	never  = make(chan int)

	gLocMazatlan, gLocNewYork, gLocSydney, gLocKolkata                     *time.Location
	gLocFixed                                                              = time.FixedZone("XYZ", -(3*3600 + 30*60))
	gLocNoName                                                             = time.FixedZone("", 5*3600+45*60)
	gLocUTC                                                                = time.UTC
	gLocLocal                                                              = time.Local
	gTimeMazatlan, gTimeNYWinter, gTimeNYSummer, gTimeSydney, gTimeKolkata time.Time
	gTimeFar, gTimeAncient, gTimeFixed, gTimeNoName, gTimeLocal            time.Time
	gTimeUTC                                                               = time.Date(2023, time.March, 4, 5, 6, 7, 890123456, time.UTC)
	gTimeNow                                                               time.Time // with a monotonic reading
	gTimeNowIn                                                             time.Time // In strips the monotonic reading
	gTimeZero                                                              time.Time
	gTimeBCE                                                               = time.Date(-100, time.March, 1, 0, 0, 0, 0, time.UTC)
	gTimeFuture                                                            time.Time // year 12345
	gTimePtr                                                               *time.Time

	gBigInt      = new(big.Int).Neg(new(big.Int).Exp(big.NewInt(2), big.NewInt(200), nil))
	gBigSmall    = big.NewInt(1234567890123)
	gBigZero     big.Int
	gBigFloat    = big.NewFloat(1.5)
	gBigFloatPi  *big.Float
	gBigFloatNeg = new(big.Float).SetPrec(20).SetFloat64(-0.1)
	gBigFloatInf = new(big.Float).SetInf(true)
	gBigFloatBig = new(big.Float).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(30), nil))
	gBigFloat0   big.Float
	gBigHuge     = new(big.Int).Lsh(big.NewInt(3), 20000)                            // too long to spell
	gBigFloatExp = new(big.Float).SetPrec(64).SetMantExp(big.NewFloat(0.75), 100000) // too many digits to spell

	gIPv4      = net.ParseIP("192.168.1.10")
	gIPv4Short = net.IPv4(10, 0, 0, 1).To4()
	gIPv6      = net.ParseIP("2001:db8::1")
	gIPv6Full  = net.ParseIP("2001:db8:0:1:1:1:1:1")
	gIPNil     net.IP
	gIPOdd     = net.IP{1, 2, 3}

	gAddr4     = netip.MustParseAddr("10.1.2.3")
	gAddr6     = netip.MustParseAddr("2001:db8::5")
	gAddr6Zone = netip.MustParseAddr("fe80::1%eth0")
	gAddr4in6  = netip.MustParseAddr("::ffff:1.2.3.4")
	gAddrZero  netip.Addr
	gPrefix4   = netip.MustParsePrefix("10.0.0.0/8")
	gPrefix6   = netip.MustParsePrefix("2001:db8::/32")
	gPrefix0   netip.Prefix

	gURL       *url.URL
	gURLPlain  *url.URL
	gURLOpaque *url.URL
	gURLPath   *url.URL
	gURLValue  url.URL

	gRegexp = regexp.MustCompile(`^(\w+)@(\w+)\.com$`)

	gReflectInt    = reflect.ValueOf(42)
	gReflectString = reflect.ValueOf("reflected")
	gReflectPoint  = reflect.ValueOf(point{3, 4})
	gReflectZero   reflect.Value
	gReflectType   = reflect.TypeOf(map[string]int{})
	gReflectType2  = reflect.TypeOf(point{})

	gOnceDone    sync.Once
	gOnceNotDone sync.Once
	gCondMu      sync.Mutex
	gCond        = sync.NewCond(&gCondMu)
	gSyncMap     sync.Map
	gAtomicValue atomic.Value
	gAtomicPtr   atomic.Pointer[point]

	gCtxBackground = context.Background()
	gCtxTODO       = context.TODO()
	gCtxValue      = context.WithValue(context.Background(), ctxKey("user"), "alice")
	gCtxCancel     context.Context
	gCtxTimer      context.Context
	gCtxExpired    context.Context
	gCtxCustom     = context.WithValue(customCtx{context.Background()}, ctxKey("user"), "carol")
	gCtxCause      context.Context // Go 1.21+ (newer_contexts.go)
	gCtxWithout    context.Context // Go 1.21+

	gBuilder strings.Builder
	gBuffer  bytes.Buffer

	sink interface{}
)

func setup() {
	must := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			panic(err)
		}
		return loc
	}
	gLocMazatlan, gLocNewYork = must("America/Mazatlan"), must("America/New_York")
	gLocSydney, gLocKolkata = must("Australia/Sydney"), must("Asia/Kolkata")
	gTimeMazatlan = time.Date(2022, time.June, 7, 2, 3, 4, 0, gLocMazatlan)
	gTimeNYWinter = time.Date(2021, time.January, 15, 9, 30, 0, 500000000, gLocNewYork)
	gTimeNYSummer = time.Date(2021, time.July, 4, 23, 59, 59, 0, gLocNewYork)
	gTimeSydney = time.Date(2031, time.December, 25, 18, 0, 0, 0, gLocSydney)
	gTimeKolkata = time.Date(2020, time.February, 29, 12, 0, 0, 123000, gLocKolkata)
	gTimeFar = time.Date(2250, time.August, 1, 12, 0, 0, 0, gLocNewYork)
	gTimeAncient = time.Date(1850, time.May, 1, 0, 0, 0, 0, gLocNewYork)
	gTimeFixed = time.Date(2019, time.November, 5, 6, 7, 8, 9, gLocFixed)
	gTimeNoName = time.Date(2019, time.November, 5, 6, 7, 8, 0, gLocNoName)
	gTimeLocal = time.Date(2024, time.October, 1, 8, 0, 0, 0, time.Local)
	gTimeNow = time.Now()
	gTimeNowIn = time.Now().In(gLocKolkata)
	gTimePtr = &gTimeMazatlan
	gTimeFuture = time.Date(12345, time.January, 2, 3, 4, 5, 0, gLocKolkata)

	gBigFloatPi, _ = new(big.Float).SetPrec(200).SetString("3.14159265358979323846264338327950288419716939937510582097494459")

	var err error
	if gURL, err = url.Parse("https://user:s3cret@example.com:8443/a%20b/c?q=1&r=x#frag"); err != nil {
		panic(err)
	}
	gURLPlain, _ = url.Parse("http://example.com/path/to?x=1")
	gURLOpaque, _ = url.Parse("mailto:someone@example.com")
	gURLPath, _ = url.Parse("/just/a path?q#top")
	gURLValue = url.URL{Scheme: "ftp", User: url.User("anon"), Host: "files.example.org", Path: "/pub"}

	gOnceDone.Do(func() {})
	gSyncMap.Store("alpha", 1)
	gSyncMap.Store("beta", 2)
	gSyncMap.Store("gamma", 3)
	gSyncMap.Store("deleted", 4)
	gSyncMap.Load("alpha")
	gSyncMap.Delete("deleted")
	gAtomicValue.Store("stored string")
	gAtomicPtr.Store(&point{7, 8})

	var cancel context.CancelFunc
	gCtxCancel, cancel = context.WithCancel(gCtxValue)
	cancel()
	gCtxTimer, _ = context.WithDeadline(gCtxValue, time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC))
	gCtxExpired, _ = context.WithTimeout(context.Background(), -time.Second)
	newerContexts()

	gBuilder.WriteString("hello, builder")
	gBuffer.WriteString("0123456789")
	gBuffer.Next(4)
}

func truth(name string, value interface{}) {
	text := fmt.Sprint(value)
	fmt.Printf("TRUTH %s\t%s\n", name, strings.ReplaceAll(text, "\n", `\n`))
}

func ctxTruth(name string, ctx context.Context) {
	deadline, ok := ctx.Deadline()
	dl := "none"
	if ok {
		dl = deadline.String()
	}
	errText := "nil"
	if ctx.Err() != nil {
		errText = ctx.Err().Error()
	}
	truth(name+".deadline", dl)
	truth(name+".err", errText)
	truth(name+".cause", causeOf(ctx))
	truth(name+".user", fmt.Sprint(ctx.Value(ctxKey("user"))))
}

func printTruth() {
	for _, item := range []struct {
		name  string
		value interface{}
	}{
		{"gLocMazatlan", gLocMazatlan}, {"gLocNewYork", gLocNewYork}, {"gLocSydney", gLocSydney},
		{"gLocKolkata", gLocKolkata}, {"gLocFixed", gLocFixed}, {"gLocNoName", gLocNoName},
		{"gLocUTC", gLocUTC}, {"gLocLocal", gLocLocal},
		{"gTimeMazatlan", gTimeMazatlan}, {"gTimeNYWinter", gTimeNYWinter}, {"gTimeNYSummer", gTimeNYSummer},
		{"gTimeSydney", gTimeSydney}, {"gTimeKolkata", gTimeKolkata}, {"gTimeFar", gTimeFar},
		{"gTimeAncient", gTimeAncient}, {"gTimeFixed", gTimeFixed}, {"gTimeNoName", gTimeNoName},
		{"gTimeLocal", gTimeLocal}, {"gTimeUTC", gTimeUTC}, {"gTimeNow", gTimeNow},
		{"gTimeNowIn", gTimeNowIn}, {"gTimeZero", gTimeZero}, {"gTimeBCE", gTimeBCE}, {"gTimeFuture", gTimeFuture},
		{"gTimeMazatlan.rfc3339", gTimeMazatlan.Format(time.RFC3339Nano)},
		{"gTimeNow.rfc3339", gTimeNow.Format(time.RFC3339Nano)},
		{"gBigInt", gBigInt}, {"gBigSmall", gBigSmall}, {"gBigZero", &gBigZero},
		{"gBigFloat", gBigFloat}, {"gBigFloatPi", gBigFloatPi}, {"gBigFloatNeg", gBigFloatNeg},
		{"gBigFloatInf", gBigFloatInf}, {"gBigFloatBig", gBigFloatBig}, {"gBigFloat0", &gBigFloat0},
		{"gBigHuge.bits", gBigHuge.BitLen()}, {"gBigFloatExp", gBigFloatExp},
		{"gIPv4", gIPv4}, {"gIPv4Short", gIPv4Short}, {"gIPv6", gIPv6}, {"gIPv6Full", gIPv6Full},
		{"gIPNil", gIPNil}, {"gIPOdd", gIPOdd},
		{"gAddr4", gAddr4}, {"gAddr6", gAddr6}, {"gAddr6Zone", gAddr6Zone}, {"gAddr4in6", gAddr4in6},
		{"gAddrZero", gAddrZero}, {"gPrefix4", gPrefix4}, {"gPrefix6", gPrefix6}, {"gPrefix0", gPrefix0},
		{"gURL", gURL.Redacted()}, {"gURLPlain", gURLPlain.Redacted()}, {"gURLOpaque", gURLOpaque.Redacted()},
		{"gURLPath", gURLPath.Redacted()}, {"gURLValue", gURLValue.Redacted()},
		{"gRegexp", gRegexp},
		{"gReflectInt", gReflectInt}, {"gReflectString", gReflectString}, {"gReflectPoint", gReflectPoint},
		{"gReflectZero", gReflectZero}, {"gReflectType", gReflectType}, {"gReflectType2", gReflectType2},
		{"gAtomicValue", gAtomicValue.Load()}, {"gAtomicPtr", *gAtomicPtr.Load()},
		{"gBuilder", gBuilder.String()}, {"gBuffer", gBuffer.String()},
	} {
		truth(item.name, item.value)
	}
	// Where some values live, for reading them from a stripped build by type and address.
	for _, item := range []struct {
		name    string
		address interface{}
	}{
		{"gTimeMazatlan", &gTimeMazatlan}, {"gLocSydney", gLocSydney}, {"gBigInt", gBigInt},
		{"gBigFloatPi", gBigFloatPi}, {"gIPv6", &gIPv6}, {"gAddr6Zone", &gAddr6Zone}, {"gPrefix6", &gPrefix6},
		{"gURL", gURL}, {"gRegexp", gRegexp}, {"gReflectPoint", &gReflectPoint}, {"gCond", gCond},
		{"gSyncMap", &gSyncMap}, {"gCtxTimer", &gCtxTimer}, {"gBuilder", &gBuilder}, {"gBuffer", &gBuffer},
		{"gOnceDone", &gOnceDone},
	} {
		fmt.Printf("ADDR %s\t%p\n", item.name, item.address)
	}
	var entries []string
	gSyncMap.Range(func(k, v interface{}) bool {
		entries = append(entries, fmt.Sprintf("%v=%v", k, v))
		return true
	})
	truth("gSyncMap", strings.Join(entries, ","))
	ctxTruth("gCtxCancel", gCtxCancel)
	ctxTruth("gCtxTimer", gCtxTimer)
	ctxTruth("gCtxExpired", gCtxExpired)
	ctxTruth("gCtxValue", gCtxValue)
	ctxTruth("gCtxCustom", gCtxCustom)
	if gCtxCause != nil {
		ctxTruth("gCtxCause", gCtxCause)
		ctxTruth("gCtxWithout", gCtxWithout)
	}
}

//go:noinline
func condWaiter() {
	gCondMu.Lock()
	parked.Done()
	gCond.Wait()
	gCondMu.Unlock()
}

//go:noinline
func holdStdLocals() {
	localTime := time.Date(2022, time.June, 7, 2, 3, 4, 0, gLocMazatlan)
	localAddr := netip.MustParseAddr("192.0.2.7")
	localIP := net.ParseIP("2001:db8::42")
	localURL, _ := url.Parse("https://bob:pw@example.net/x?y=z")
	localBig := big.NewInt(-987654321)
	localCtx := context.WithValue(gCtxTimer, ctxKey("user"), "bob")
	var localBuilder strings.Builder
	localBuilder.WriteString("local builder")
	localDuration := 1500 * time.Millisecond
	fmt.Printf("TRUTH local.localTime\t%s\n", localTime)
	fmt.Printf("TRUTH local.localAddr\t%s\n", localAddr)
	fmt.Printf("TRUTH local.localIP\t%s\n", localIP)
	fmt.Printf("TRUTH local.localURL\t%s\n", localURL.Redacted())
	fmt.Printf("TRUTH local.localBig\t%s\n", localBig)
	fmt.Printf("TRUTH local.localBuilder\t%s\n", localBuilder.String())
	fmt.Printf("TRUTH local.localDuration\t%s\n", localDuration)
	fmt.Printf("TRUTH local.localCtx.user\t%v\n", localCtx.Value(ctxKey("user")))
	parked.Done()
	sink = <-never
	runtime.KeepAlive(localTime)
	runtime.KeepAlive(localAddr)
	runtime.KeepAlive(localIP)
	runtime.KeepAlive(localURL)
	runtime.KeepAlive(localBig)
	runtime.KeepAlive(localCtx)
	runtime.KeepAlive(&localBuilder)
	runtime.KeepAlive(localDuration)
}

func keep() {
	sink = []interface{}{
		&gTimeZero, &gTimePtr, &gLocUTC, &gLocLocal, &gBigZero, &gBigFloat0, &gIPNil, &gAddrZero, &gPrefix0,
		&gURLValue, &gReflectZero, &gOnceNotDone, &gCond, &gSyncMap, &gCtxBackground, &gCtxTODO,
		&gCtxCause, &gCtxWithout, &gReflectPoint, &gIPv6, &gPrefix6, &gBigFloatPi, &gCtxCustom, &gBigHuge, &gBigFloatExp, &gTimeBCE, &gBuilder, &gBuffer, &gAtomicValue, &gAtomicPtr,
	}
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	setup()
	keep()
	parked.Add(3)
	go condWaiter()
	go condWaiter()
	go holdStdLocals()
	parked.Wait()
	time.Sleep(300 * time.Millisecond)
	gCondMu.Lock() // both waiters are in Wait (they released the lock)
	gCondMu.Unlock()
	printTruth()
	os.Stdout.Sync()
	switch mode {
	case "panic":
		panic(errors.New("goext-stdtypes: deliberate panic"))
	case "wait":
		fmt.Printf("READY %d\n", os.Getpid())
		os.Stdout.Sync()
		<-never
	default:
		fmt.Fprintf(os.Stderr, "usage: stdtypes panic|wait (got %q)\n", mode)
		os.Exit(2)
	}
}
