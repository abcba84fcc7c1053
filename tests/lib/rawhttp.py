"""rawhttp.py — one HTTP/1.1 response read off a raw socket, for the tests
that write requests byte by byte and must see exactly what came back (the
status line, every field, the body framing), which http.client would hide
or normalise.
"""
import collections


class Response(collections.namedtuple("Response", "line fields body")):
    """line: the status line; fields: [(name, value)...] in order; body:
    the bytes as framed (chunked kept encoded)."""

    @property
    def status(self):
        return int(self.line.split()[1])

    @property
    def headers(self):
        """Field names lowercased (the last value of a repeated one)."""
        return {k.lower(): v for k, v in self.fields}

    @property
    def head(self):
        """The head as sent, without its final CRLF CRLF."""
        return "\r\n".join([self.line] + ["%s: %s" % f
                                           for f in self.fields]).encode(
                                               "latin-1")


def read_response(s, head_only=False):
    """The next Response on socket s. The body is read by its framing:
    Content-Length, chunked, none after a 1xx/204/304 head or for HEAD
    (head_only), else until the server closes."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise AssertionError("connection closed before a full head: %r"
                                 % buf)
        buf += b
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = [tuple(ln.split(": ", 1)) for ln in lines[1:]]
    hd = {k.lower(): v for k, v in fields}
    status = lines[0].split()[1]
    if head_only or status in ("204", "304") or status.startswith("1"):
        return Response(lines[0], fields, b"")
    if "content-length" in hd:
        want = int(hd["content-length"])
        while len(body) < want:
            b = s.recv(65536)
            if not b:
                break
            body += b
    elif hd.get("transfer-encoding") == "chunked":
        while not body.endswith(b"0\r\n\r\n"):
            b = s.recv(65536)
            if not b:
                break
            body += b
    else:
        while True:
            b = s.recv(65536)
            if not b:
                break
            body += b
    return Response(lines[0], fields, body)
