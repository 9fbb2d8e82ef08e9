"""`wrk` (Debian's package) as the load generator: a Lua script per target POSTs GraphQL bodies with the admin
bearer token, counts answers that are not a success (HTTP status other than 200, or a GraphQL `errors` entry),
and prints one JSON line at the end. The client's CPU (wrk is a child process) is measured with getrusage."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.kit.cpu import process_cpu_seconds

_SCRIPT = """
wrk.method = "POST"
wrk.path = "/graphql"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local bodies = %(bodies)s
local template = %(template)s
local first = %(first)d
local limit = %(limit)d
counter = 0
answers = 0
failures = 0
sample = ""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  local body
  if template ~= "" then
    body = string.gsub(template, "@N@", string.format("%%06d", first + counter))
  else
    body = bodies[(counter %% #bodies) + 1]
  end
  counter = counter + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  answers = answers + 1
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failures = failures + 1
    if sample == "" then sample = string.format("HTTP %%d: %%s", status, string.sub(body, 1, 300)) end
  end
  if limit > 0 and answers >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local failed, answered, example = 0, 0, ""
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
    answered = answered + thread:get("answers")
    if example == "" then example = thread:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %%d, "duration_us": %%d, "answers": %%d, "failures": %%d, ' ..
    '"socket_errors": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, "sample": %%q}\\n',
    summary.requests, summary.duration, answered, failed, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, example))
end
"""


def available() -> str | None:
    return shutil.which("wrk")


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for these bodies (ASCII)


def write_script(
    path: Path,
    token: str,
    *,
    bodies: list[bytes] | None = None,
    template: str = "",
    first: int = 0,
    limit: int = 0,
) -> Path:
    """`bodies` cycled, or `template` with `@N@` replaced by first, first + 1, ... (zero-padded to 6 digits);
    `limit` > 0 stops after that many answers (per thread)."""
    listed = "{" + ", ".join(_lua_string(body.decode()) for body in bodies or []) + "}"
    values = {"token": token, "bodies": listed, "template": _lua_string(template), "first": first, "limit": limit}
    path.write_text(_SCRIPT % values)
    return path


def run_wrk(
    base_url: str,
    script: Path,
    *,
    concurrency: int,
    duration: float,
    server_pid: int,
    timeout_s: int = 10,
) -> dict[str, Any]:
    """One wrk run (one thread, `concurrency` connections): throughput, latency, failures, and the CPU seconds of
    the client (wrk) and of the server process during the run."""
    command = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(duration))}s",  # wrk takes whole seconds
        f"--timeout={timeout_s}s",
        "-s",
        str(script),
        base_url + "/graphql",
    ]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = process_cpu_seconds(server_pid) or 0.0
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=duration + 120)
    server_after = process_cpu_seconds(server_pid) or 0.0
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((line for line in completed.stdout.splitlines() if line.startswith("WRK-RESULT ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout[-500:]}"
        )
    result: dict[str, Any] = json.loads(line.removeprefix("WRK-RESULT "))
    seconds = result["duration_us"] / 1e6
    answered = max(result["answers"], 1)
    client = (after_children.ru_utime + after_children.ru_stime) - (before_children.ru_utime + before_children.ru_stime)
    result |= {
        "concurrency": concurrency,
        "seconds": seconds,
        "throughput_rps": result["answers"] / seconds if seconds else 0.0,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "p99_over_p50": result["p99_us"] / result["p50_us"] if result["p50_us"] else float("nan"),
        "errors": result["failures"] + result["socket_errors"],
        "server_cpu_ms_per_request": (server_after - server_before) * 1000 / answered,
        "client_cpu_ms_per_request": client * 1000 / answered,
        "server_cpu_share": (server_after - server_before) / seconds if seconds else 0.0,
        "client_cpu_share": client / seconds if seconds else 0.0,
    }
    return result
