"""wrk scripts: one request (with method, body and cookie) or a weighted mix, and a
report of the latency percentiles wrk does not print by itself (p95)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bench.system import VAR, BenchError, log, parse_wrk, run_wrk


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    weight: int = 1


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for our text


# The report: JSON on one line, marked so it can be found in wrk's output.
REPORT = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-REPORT {"requests": %d, "seconds": %.3f, "p50": %.3f, "p95": %.3f, "p99": %.3f, '
    .. '"max": %.3f, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def script(requests: list[Request]) -> str:
    """Requests drawn by weight, from a table built once per thread."""
    lines = [
        "local pool = {}",
        "local function add(method, path, headers, body, weight)",
        "  local req = wrk.format(method, path, headers, body)",
        "  for i = 1, weight do table.insert(pool, req) end",
        "end",
        "init = function(args)",
    ]
    for r in requests:
        headers = "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}"
                                  for k, v in r.headers.items()) + "}"  # fmt: skip
        body = _lua_string(r.body) if r.body else "nil"
        lines.append(
            f"  add({_lua_string(r.method)}, {_lua_string(r.path)}, {headers}, {body}, {r.weight})"
        )
    lines += [
        "  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))",
        "end",
        "request = function() return pool[math.random(#pool)] end",
        REPORT,
    ]
    return "\n".join(lines)


@dataclass
class Measured:
    requests_per_second: float
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    bad_status: int

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def measure(base_url: str, requests: list[Request], *, seconds: int, connections: int,
            name: str) -> Measured:  # fmt: skip
    path = VAR / "wrk" / f"{name}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script(requests))
    output = run_wrk(base_url, seconds=seconds, connections=connections, script=path)
    for line in output.splitlines():
        if line.startswith("BENCH-REPORT "):
            report = json.loads(line.removeprefix("BENCH-REPORT "))
            break
    else:
        raise BenchError(f"wrk gave no report for {name}:\n{output}")
    parsed = parse_wrk(output)
    errors = report["connect"] + report["read"] + report["write"] + report["timeout"]
    result = Measured(
        requests_per_second=parsed.requests_per_second, requests=report["requests"],
        p50_ms=report["p50"], p95_ms=report["p95"], p99_ms=report["p99"], max_ms=report["max"],
        errors=errors, bad_status=parsed.non_2xx_3xx,
    )  # fmt: skip
    log(f"  {name}: {result.requests_per_second:,.0f} req/s, p95 {result.p95_ms:.1f} ms, "
        f"{result.errors} socket errors, {result.bad_status} bad statuses")  # fmt: skip
    return result
