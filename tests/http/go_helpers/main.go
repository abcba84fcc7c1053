// The oracle of tests/http/test_helpers.py: the routes of
// tests/plugin/fixtures/helpers.c written with net/http itself. Listens on
// the address in os.Args[1] and prints "listening on ADDR" to stderr.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func text(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
}

func form(w http.ResponseWriter, r *http.Request) {
	err := r.ParseForm()
	text(w)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	fmt.Fprintf(w, "err=%s\n", msg)
	keys := make([]string, 0, len(r.Form))
	for k := range r.Form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "form %s=%s\n", k, strings.Join(r.Form[k], "|"))
		if v, ok := r.PostForm[k]; ok {
			fmt.Fprintf(w, "post %s=%s\n", k, v[0])
		}
	}
}

func cookies(w http.ResponseWriter, r *http.Request) {
	text(w)
	for _, c := range r.Cookies() {
		fmt.Fprintf(w, "%s=%s\n", c.Name, c.Value)
	}
	if c, err := r.Cookie("a"); err == nil {
		fmt.Fprintf(w, "a: %s\n", c.Value)
	} else {
		fmt.Fprintf(w, "a: none\n")
	}
}

func setcookie(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := &http.Cookie{Name: q.Get("n"), Value: q.Get("v"), Path: q.Get("p"),
		Domain: q.Get("d")}
	if e, ok := q["e"]; ok {
		n, _ := strconv.ParseInt(e[0], 10, 64)
		c.Expires = time.Unix(n, 0)
	}
	c.MaxAge, _ = strconv.Atoi(q.Get("m"))
	_, c.Secure = q["s"]
	_, c.HttpOnly = q["h"]
	ss, _ := strconv.Atoi(q.Get("ss"))
	if ss > 0 {
		c.SameSite = http.SameSite(ss + 1)
	}
	http.SetCookie(w, c)
	text(w)
	fmt.Fprintf(w, "%s\n", c.String())
}

func redirect(w http.ResponseWriter, r *http.Request) {
	code := 302
	if c := r.URL.Query().Get("code"); c != "" {
		code, _ = strconv.Atoi(c)
	}
	http.Redirect(w, r, r.URL.Query().Get("to"), code)
}

func headers(w http.ResponseWriter, r *http.Request) {
	text(w)
	for _, v := range r.Header.Values("X-A") {
		fmt.Fprintf(w, "%s\n", v)
	}
}

func main() {
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/form", form)
	mux.HandleFunc("/cookies", cookies)
	mux.HandleFunc("/setcookie", setcookie)
	mux.HandleFunc("/r/", redirect)
	mux.HandleFunc("/headers", headers)
	panic(http.Serve(ln, mux))
}
