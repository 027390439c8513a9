"""`make cluster-test`'s verdict on nginx's access log (bench/cluster.py)."""

from __future__ import annotations

from pathlib import Path

from bench.cluster import failures

LOG = """\
127.0.0.1 - - [30/Nov/2026:17:26:15 +0000] "GET /cases/ HTTP/1.1" 200 5120 "-" "-"
127.0.0.1 - - [30/Nov/2026:17:26:16 +0000] "POST /api/v1/determinations HTTP/1.1" 502 150 "-" "-"
127.0.0.1 - - [30/Nov/2026:17:26:16 +0000] "GET /guide/en/ HTTP/1.1" 503 90 "-" "-"
127.0.0.1 - - [30/Nov/2026:17:26:17 +0000] "GET /reports/ HTTP/1.1" 302 0 "-" "-"
127.0.0.1 - - [30/Nov/2026:17:26:55 +0000] "GET /cases/?page=2 HTTP/1.1" 499 0 "-" "-"
127.0.0.1 - - [30/Nov/2026:17:26:55 +0000] "\\x16\\x03" 400 150 "-" "-"
not a log line
"""


def test_failures_split_idempotent_requests_from_the_others(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(LOG)
    # The 503 to a GET is a failure the run must not have; the 502 to a POST is counted
    # apart; 499 (the client left) and 400 are not failures of the cluster.
    assert failures(log) == {"idempotent": 1, "other": 1}
