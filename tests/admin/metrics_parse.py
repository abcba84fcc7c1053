"""gortd's /metrics families from a live runtime, read by the real
Prometheus client parser (Debian python3-prometheus-client): every family
parses, has the type Prometheus's Go client gives it, and holds sane values.

usage: metrics_parse.py TEST_METRICS_BINARY
"""
import os
import subprocess
import sys
import time

from prometheus_client.parser import text_string_to_metric_families

# name as the parser reports it (counters lose _total) -> type
WANT = {
    "go_goroutines": "gauge",
    "go_threads": "gauge",
    "go_sched_gomaxprocs_threads": "gauge",
    "go_sched_latencies_seconds": "histogram",
    "gort_sched_p_runq_length": "gauge",
    "gort_sched_p_steals": "counter",
    "gort_sched_global_runq_length": "gauge",
    "gort_sched_threads": "gauge",
    "gort_goroutines": "gauge",
    "gort_goroutines_created": "counter",
    "gort_netpoll_wakeups": "counter",
    "gort_timers": "gauge",
    "gort_http_connections": "gauge",
    "gort_http_responses": "counter",
    "process_cpu_seconds": "counter",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
}


def main():
    out = subprocess.run([sys.argv[1], "page"], check=True,
                         capture_output=True, env=dict(os.environ,
                                                       GOMAXPROCS="2"))
    fams = {f.name: f for f in
            text_string_to_metric_families(out.stdout.decode("utf-8"))}
    passed = failed = 0

    def check(what, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL %s %s" % (what, detail))

    for name, typ in WANT.items():
        f = fams.get(name)
        check(name, f is not None and f.type == typ,
              "missing" if f is None else "type %s" % f.type)

    def value(name, sample=None, **labels):
        for s in fams[name].samples:
            if s.name == (sample or name) and all(
                    s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        return None

    check("gomaxprocs", value("go_sched_gomaxprocs_threads") == 2)
    check("goroutines", value("go_goroutines") >= 1)
    check("created", value("gort_goroutines_created",
                           "gort_goroutines_created_total") >= 10)
    check("per-P series", {s.labels["p"] for s in
                           fams["gort_sched_p_runq_length"].samples}
          == {"0", "1"})
    check("start time", abs(value("process_start_time_seconds")
                            - time.time()) < 3600)
    check("rss", value("process_resident_memory_bytes") > 0)
    check("2xx", value("gort_http_responses", "gort_http_responses_total",
                       code="2xx") == 5)
    inf = value("go_sched_latencies_seconds",
                "go_sched_latencies_seconds_bucket", le="+Inf")
    count = value("go_sched_latencies_seconds",
                  "go_sched_latencies_seconds_count")
    check("histogram +Inf == count", inf == count, "%r %r" % (inf, count))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
