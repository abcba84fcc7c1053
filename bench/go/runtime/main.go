// Command runtime is the Go side of bench/bench_runtime.c: the same four
// micro-benchmarks (goroutine spawn, yield switch, unbuffered channel round
// trip, memory per parked goroutine) doing the same work, printing the same
// "name value" line on stdout and a detail line on stderr.
//
//	runtime spawn|yield|chan|rss|timer [N]
//
// GOMAXPROCS comes from the environment, as for the C side.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runtime: "+format+"\n", args...)
	os.Exit(1)
}

// ---- spawn: N goroutines that only call Done ------------------------------

func spawnChild(wg *sync.WaitGroup) {
	wg.Done()
}

func benchSpawn(n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go spawnChild(&wg)
	}
	wg.Wait()
	dt := time.Since(t0)
	fmt.Fprintf(os.Stderr, "spawn: %d goroutines in %.3f ms\n", n,
		float64(dt.Nanoseconds())/1e6)
	return float64(dt.Nanoseconds()) / float64(n)
}

// ---- yield: two goroutines calling runtime.Gosched N times each ------------

func yieldLoop(n int, wg *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		runtime.Gosched()
	}
	wg.Done()
}

func benchYield(n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(2)
	go yieldLoop(n, &wg)
	go yieldLoop(n, &wg)
	wg.Wait()
	dt := time.Since(t0)
	fmt.Fprintf(os.Stderr, "yield: 2 x %d yields in %.3f ms\n", n,
		float64(dt.Nanoseconds())/1e6)
	return float64(dt.Nanoseconds()) / (2 * float64(n))
}

// ---- chan: ping-pong over two unbuffered channels --------------------------

func pinger(n int, ping chan<- int64, pong <-chan int64, wg *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		ping <- int64(i)
		v, ok := <-pong
		if !ok || v != int64(i) {
			die("ping-pong: got %d, %v; want %d", v, ok, i)
		}
	}
	wg.Done()
}

func ponger(n int, ping <-chan int64, pong chan<- int64, wg *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		v, ok := <-ping
		if !ok {
			die("ping-pong: ping closed")
		}
		pong <- v
	}
	wg.Done()
}

func benchChan(n int) float64 {
	var wg sync.WaitGroup
	ping := make(chan int64)
	pong := make(chan int64)
	t0 := time.Now()
	wg.Add(2)
	go ponger(n, ping, pong, &wg)
	go pinger(n, ping, pong, &wg)
	wg.Wait()
	dt := time.Since(t0)
	fmt.Fprintf(os.Stderr, "chan: %d round trips in %.3f ms\n", n,
		float64(dt.Nanoseconds())/1e6)
	return float64(dt.Nanoseconds()) / float64(n)
}

// ---- rss: N goroutines parked in a channel receive --------------------------

// statusKiB returns a "Name: N kB" field of /proc/self/status (VmRSS,
// VmPTE) in KiB: the same numbers the C side reads (runtime.ReadMemStats is
// not used).
func statusKiB(name string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		die("%v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+":") {
			continue
		}
		rest := strings.TrimPrefix(line, name+":")
		kib, err := strconv.ParseInt(strings.TrimSuffix(
			strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			die("parsing %s: %v", name, err)
		}
		return kib
	}
	die("no %s in /proc/self/status", name)
	return 0
}

func parked(ch <-chan struct{}, ready, done *sync.WaitGroup) {
	ready.Done()
	if _, ok := <-ch; ok {
		die("received a value on a channel nobody sends on")
	}
	done.Done()
}

// closeMS is what the rss run measured for the close: the "close" benchmark
// is the same run, reporting the time from close(ch) until every parked
// receiver has run (ms) instead of the memory.
var closeMS float64

func benchClose(n int) float64 {
	benchRSS(n)
	return closeMS
}

// cpuTime is the process's user+system CPU time in ns: on a shared VM the
// wall clock also counts the time other tenants hold the CPU.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func benchRSS(n int) float64 {
	var ready, done sync.WaitGroup
	ch := make(chan struct{})
	before := statusKiB("VmRSS")
	t0 := time.Now()
	ready.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go parked(ch, &ready, &done)
	}
	ready.Wait()
	// The last goroutines have called Done but may not be parked yet.
	time.Sleep(50 * time.Millisecond)
	after := statusKiB("VmRSS")
	pte := statusKiB("VmPTE") // page tables: not in VmRSS

	t1, c1 := time.Now(), cpuTime()
	close(ch)
	done.Wait()
	t2, c2 := time.Now(), cpuTime()
	closeMS = float64(t2.Sub(t1).Nanoseconds()) / 1e6
	fmt.Fprintf(os.Stderr, "rss: %d parked goroutines, VmRSS %d -> %d KiB, "+
		"VmPTE %d KiB; parked in %.0f ms, released in %.0f ms (CPU %.0f ms)\n",
		n, before, after, pte,
		float64(t1.Sub(t0).Nanoseconds())/1e6,
		float64(t2.Sub(t1).Nanoseconds())/1e6,
		float64(c2-c1)/1e6)
	return float64(after-before) * 1024 / float64(n)
}

// ---- main --------------------------------------------------------------------

var benches = map[string]struct {
	fn       func(int) float64
	defaultN int
	metric   string
}{
	"spawn": {benchSpawn, 1000000, "spawn_ns_per_op"},
	"yield": {benchYield, 1000000, "yield_ns_per_switch"},
	"chan":  {benchChan, 500000, "chan_ns_per_roundtrip"},
	"rss":   {benchRSS, 1000000, "rss_bytes_per_parked_g"},
	"close": {benchClose, 1000000, "close_ms"},
	"timer": {benchTimer, 2000000, "timer_ns_per_arm_stop"},
}

// ---- timer: arm and stop with 100k timers armed ---------------------------

const timerArmed = 100000

func benchTimer(n int) float64 {
	bg := make([]*time.Timer, timerArmed)
	fg := make([]*time.Timer, timerArmed)
	for i := range bg {
		bg[i] = time.NewTimer(time.Hour + time.Duration(i)*time.Microsecond)
		fg[i] = time.NewTimer(time.Hour)
		fg[i].Stop()
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		t := fg[i%timerArmed]
		t.Reset(time.Hour + time.Duration(i%997)*time.Microsecond)
		t.Stop()
	}
	dt := time.Since(t0)
	fmt.Fprintf(os.Stderr, "timer: %d arm+stop with %d armed in %.3f ms\n",
		n, timerArmed, float64(dt.Nanoseconds())/1e6)
	for i := range bg {
		bg[i].Stop()
	}
	return float64(dt.Nanoseconds()) / float64(n)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: runtime spawn|yield|chan|rss|timer [N]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		usage()
	}
	b, ok := benches[os.Args[1]]
	if !ok {
		usage()
	}
	n := b.defaultN
	if len(os.Args) == 3 {
		v, err := strconv.Atoi(os.Args[2])
		if err != nil || v <= 0 {
			usage()
		}
		n = v
	}
	fmt.Printf("%s %.1f\n", b.metric, b.fn(n))
}
