// spin — the two handlers of gortd's spin test plugin
// (tests/plugin/fixtures/spin.c) in net/http, for bench/spin.sh: /spin
// computes for ms milliseconds (default 2000) reading only the clock, /about
// answers at once. Go preempts the spin asynchronously (every 10 ms). The
// bound address is printed on stderr ("listening on 127.0.0.1:PORT").
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

var sink uint64

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/spin", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil {
			ms = 2000
		}
		end := time.Now().Add(time.Duration(ms) * time.Millisecond)
		x := uint64(1)
		for time.Now().Before(end) {
			for i := 0; i < 1000; i++ {
				x = x*6364136223846793005 + 1442695040888963407
			}
		}
		sink = x
		fmt.Fprintf(w, "spun %d\n", ms)
	})
	http.HandleFunc("/about", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "about")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", ln.Addr())
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
