#!/usr/bin/env python3
"""The SDK's request and response helpers (server/http/helpers.c, form.c,
cookie.c, redirect.c) against Go's net/http as the oracle: the same raw
requests go to gortd serving the helpers fixture
(tests/plugin/fixtures/helpers.c) and to tests/http/go_helpers (the same
routes written with net/http, built here with Debian's golang-go), and the
answers must match: status, Location, Content-Type, every Set-Cookie, and
the body, which prints what each helper saw.

Covered: r.ParseForm (query and urlencoded body merged, repeated keys, '+'
as space, bad escapes and ';' reported with Go's error, PUT/PATCH, other
media types left alone, a body over 10 MiB), r.Cookies and r.Cookie
(validity rules, quotes, several Cookie fields), Cookie.String and
SetCookie (sanitised values and paths, quoting, bad domains dropped,
Expires, Max-Age, Secure, HttpOnly, SameSite), http.Redirect (relative
URLs joined and cleaned, trailing slash, query kept, scheme and host
untouched, the HTML body escaped, HEAD and POST), and Header.Values.

Known differences (not sent): a Location with non-ASCII bytes (Go writes
lowercase %xx, gortd uppercase as its mux does) or with '"', '<', '>', '\\'
or controls (gortd percent-encodes them, Go leaves them raw).

usage: test_helpers.py GORTD HELPERS_DIR GO_SRC
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import shutil
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rawhttp  # noqa: E402
from gortd import Gortd  # noqa: E402

GORTD, HELPERS_DIR, GO_SRC = sys.argv[1:4]
del sys.argv[1:4]

H = b"Host: x\r\n"
FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"


def get(target, extra=b""):
    return b"GET " + target + b" HTTP/1.1\r\n" + H + extra + b"\r\n"


def body_req(method, target, body, ctype=FORM):
    return (method + b" " + target + b" HTTP/1.1\r\n" + H + ctype +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def cookie(*fields):
    return get(b"/cookies", b"".join(b"Cookie: " + f + b"\r\n"
                                     for f in fields))


CASES = [
    # forms
    get(b"/form"),
    get(b"/form?a=1&b=2&a=3"),
    get(b"/form?q=hello+world&x=%41%2b&&y"),
    get(b"/form?a=%zz&b=2&c=%4"),
    get(b"/form?a=1;b=2&c=3"),
    get(b"/form?%zz=1&k%=2&ok=%e4%b8%96"),
    body_req(b"POST", b"/form?a=q1&c=q", b"a=b1&b=x+y&a=b2"),
    body_req(b"POST", b"/form", b"a=%2&b=1"),
    body_req(b"POST", b"/form?x=%zz", b"a=%zq"),
    body_req(b"PUT", b"/form?z=1", b"p=1"),
    body_req(b"PATCH", b"/form", b"p=2&p=3"),
    body_req(b"DELETE", b"/form?d=1", b"p=1"),
    body_req(b"POST", b"/form?t=1", b"p=1", b"Content-Type: text/plain\r\n"),
    body_req(b"POST", b"/form", b"p=1",
             b"Content-Type: Application/X-WWW-Form-Urlencoded; "
             b"charset=utf-8\r\n"),
    body_req(b"POST", b"/form", b"p=1", b""),
    body_req(b"POST", b"/form?q=1", b"a=" + b"x" * (10 << 20)),
    # cookies
    cookie(),
    cookie(b"a=1"),
    cookie(b"a=1; b=2; a=3"),
    cookie(b"b=2", b"a=\"quoted\"; c="),
    cookie(b" a = 1 ; b=2 "),
    cookie(b"a=x\\y; b=\"q\"q\"; c=ok; d=sp ace; e=com,ma"),
    cookie(b"=v; bad name=1; ok=1; semi"),
    cookie(b"b=1;;; ;a=2"),
    cookie(b"a=\"\"; b=\""),
    # Set-Cookie
    get(b"/setcookie?n=s&v=1"),
    get(b"/setcookie?n=s&v=a+b"),
    get(b"/setcookie?n=s&v=a,b"),
    get(b"/setcookie?n=s&v=%22q%3B%5C%01x"),
    get(b"/setcookie?n=bad+name&v=1"),
    get(b"/setcookie?n=&v=1"),
    get(b"/setcookie?n=s&v=1&p=/a;b%01c&d=example.com"),
    get(b"/setcookie?n=s&v=1&d=.example.com"),
    get(b"/setcookie?n=s&v=1&d=bad_domain.com"),
    get(b"/setcookie?n=s&v=1&d=1.2.3.4"),
    get(b"/setcookie?n=s&v=1&d=::1"),
    get(b"/setcookie?n=s&v=1&d=-a.com"),
    get(b"/setcookie?n=s&v=1&d=a-.com"),
    get(b"/setcookie?n=s&v=1&e=1700000000"),
    get(b"/setcookie?n=s&v=1&e=0"),
    get(b"/setcookie?n=s&v=1&e=-11644473601"),
    get(b"/setcookie?n=s&v=1&e=-11644473600"),
    get(b"/setcookie?n=s&v=1&m=60"),
    get(b"/setcookie?n=s&v=1&m=-1"),
    get(b"/setcookie?n=s&v=&m=0&s&h&ss=1"),
    get(b"/setcookie?n=s&v=1&ss=2&s"),
    get(b"/setcookie?n=s&v=1&ss=3&h&p=/&d=a.example&e=86400&m=5"),
    # redirects
    get(b"/r/a/b?to=c"),
    get(b"/r/a/b?to=../c"),
    get(b"/r/a/b/?to=c/"),
    get(b"/r/a/b?to=/x/./y/../z"),
    get(b"/r/a/b?to=/x//y/"),
    get(b"/r/a/b?to=c%3Fq%3D1%26r"),
    get(b"/r/a/b?to=http://other.example/p/../q"),
    get(b"/r/a/b?to=//other.example/p"),
    get(b"/r/a/b?to=///p/../q"),
    get(b"/r/a/b?to="),
    get(b"/r/a/b?to=.."),
    get(b"/r/a/b?to=../../../../x"),
    get(b"/r/a/b?to=a:b"),
    get(b"/r/a/b?to=1a:b/c"),
    get(b"/r/a/b?to=c%2525zz"),
    get(b"/r/a/b?to=c%23frag%2525"),
    get(b"/r/a/b?to=c%26amp&code=301"),
    get(b"/r/a/b?to=x&code=307"),
    get(b"/r/a/b?to=x&code=308"),
    get(b"/r/a%2fb/c?to=d"),
    b"HEAD /r/a/b?to=c HTTP/1.1\r\n" + H + b"\r\n",
    body_req(b"POST", b"/r/a/b?to=c&code=303", b"x=1"),
    # header values by name
    get(b"/headers", b"X-A: 1\r\nX-B: 2\r\nx-a: 3\r\nX-A: \r\n"),
    get(b"/headers"),
]


def answer(port, req):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(req)
        r = rawhttp.read_response(s, req.startswith(b"HEAD "))
    keep = ("location", "content-type", "set-cookie")
    # Go sorts its fields by name; the order of each name's values counts.
    return (r.status, sorted(((k.lower(), v) for k, v in r.fields
                              if k.lower() in keep), key=lambda f: f[0]),
            r.body)


class HelpersOracle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gort-helpers-")
        env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off",
                   GO111MODULE="off", GOFLAGS="",
                   GOCACHE=os.path.join(cls.tmp, "gocache"))
        go_bin = os.path.join(cls.tmp, "helpers_go")
        subprocess.run(["go", "build", "-o", go_bin,
                        os.path.join(GO_SRC, "main.go")], env=env, check=True)
        cls.go = subprocess.Popen([go_bin, "127.0.0.1:0"],
                                  stderr=subprocess.PIPE, text=True)
        m = re.search(r"listening on \S+:(\d+)", cls.go.stderr.readline())
        assert m, "the Go oracle did not start"
        cls.go_port = int(m.group(1))
        cls.gortd = Gortd(GORTD, plugins_dir=HELPERS_DIR, name="helpers")

    @classmethod
    def tearDownClass(cls):
        cls.go.kill()
        cls.go.wait()
        cls.gortd.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_case_answers_as_go(self):
        for req in CASES:
            with self.subTest(request=req.split(b"\r\n")[0][:80].decode()):
                self.assertEqual(answer(self.gortd.port, req),
                                 answer(self.go_port, req))

    def test_cases_are_not_all_alike(self):
        """The comparison means something: the fixture prints what it
        parsed, so answers differ between cases."""
        bodies = {answer(self.gortd.port, r)[2] for r in CASES}
        self.assertGreater(len(bodies), len(CASES) // 2)

    def test_location_escapes_what_go_leaves_raw(self):
        """The deliberate difference: a backslash or a quote in a redirect
        target is percent-encoded, so it neither leaves the site nor ends
        the attribute in the body."""
        st, fields, body = answer(self.gortd.port,
                                  get(b"/r/a?to=/%5Cevil.example/%22x"))
        self.assertEqual(st, 302)
        self.assertIn(("location", "/%5Cevil.example/%22x"), fields)
        self.assertIn(b"&#34;x", body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
