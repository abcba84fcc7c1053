// hellotls — bench/go/hello over TLS (http.ServeTLS, Go's ListenAndServeTLS
// on a listener we bind ourselves), for bench/https.sh and as the oracle of
// tests/http/test_tls.py (its answer to plain HTTP on the TLS port).
// Usage: hellotls ADDR CERT KEY; port 0 lets the kernel pick, and the bound
// address is printed on stderr ("listening on 127.0.0.1:PORT").
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: hellotls ADDR CERT KEY")
		os.Exit(2)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, "hello world")
	})
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "listening on", ln.Addr())
	if err := http.ServeTLS(ln, nil, os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
