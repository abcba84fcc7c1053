"""The Prometheus writer's hostile page, read by the real Prometheus client
parser (Debian python3-prometheus-client): every family and sample comes
back with its labels unescaped as written, invalid UTF-8 as U+FFFD.

usage: prom_parse.py TEST_PROM_BINARY
"""
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    page = subprocess.run([sys.argv[1], "page"], check=True,
                          capture_output=True).stdout.decode("utf-8")
    fams = {f.name: f for f in text_string_to_metric_families(page)}
    failed = 0

    def check(what, got, want):
        nonlocal failed
        if got != want:
            failed += 1
            print("FAIL %s: got %r, want %r" % (what, got, want))

    labels = {"route": "GET /q\"uo\\te\nnl", "plugin": "\ufffd\ufffdinvalid"}
    req = fams["gort_http_requests"]  # the client strips _total
    check("requests type", req.type, "counter")
    check("requests help", req.documentation,
          "Requests \\ by \"route\"\nand plugin.")
    check("requests sample", [(s.labels, s.value) for s in req.samples
                              if s.name == "gort_http_requests_total"],
          [(labels, 7.0)])
    dur = fams["gort_http_request_duration_seconds"]
    check("histogram type", dur.type, "histogram")
    buckets = [(s.labels["le"], s.value) for s in dur.samples
               if s.name.endswith("_bucket")]
    check("buckets", buckets, [("0.005", 1.0), ("0.5", 3.0), ("+Inf", 6.0)])
    count = [s.value for s in dur.samples if s.name.endswith("_count")]
    check("count", count, [6.0])
    start = fams["process_start_time_seconds"].samples[0].value
    check("float", start, 1764855420.25)
    print("%d passed, %d failed" % (6 - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
