// The oracle of tests/http/test_proxy.py: Go's httputil.ReverseProxy in
// front of os.Args[2] ("http://127.0.0.1:PORT"), listening on os.Args[1];
// prints "listening on ADDR" to stderr.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	up, err := url.Parse(os.Args[2])
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", ln.Addr())
	panic(http.Serve(ln, httputil.NewSingleHostReverseProxy(up)))
}
