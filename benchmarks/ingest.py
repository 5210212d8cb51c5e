"""Trigger ingest throughput: signed, valid callouts at 64 connections against one web process,
next to a bare aiohttp handler (parse JSON, answer) measured in the same run.

    .venv/bin/python benchmarks/ingest.py [--seconds 10] [--connections 64] [--requests 60000]
        [--profile F | --cpu-profile F | --py-spy F] [--keep]

Needs `wrk` (Debian package). Prints one JSON line per result: requests/s and p99 for both,
the ratio, and the exactly-once check: every accepted id reached exactly one dispatched batch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import (
    bridge,
    bridge_env,
    free_port,
    process,
    redis_server,
    report,
    wait_http,
)
from bridge.salesforce.ids import to_18
from bridge.triggers.dispatcher import Batch, Dispatcher
from bridge.triggers.intake import SEEN_PREFIX
from bridge.triggers.signatures import sign

ORG = to_18("00D5g000004bQ2K")


def bench_tenant(env: dict[str, str]) -> tuple[str, str]:
    """Migrate, then a tenant `bench` with the org, ample credits, an API key and a signing
    secret; returns (key, secret)."""
    bridge("migrate", env=env)
    key = bridge("keys", "create", "--tenant", "bench", env=env).strip().splitlines()[-1]
    bridge("orgs", "add", "--tenant", "bench", ORG, env=env)
    bridge("credits", "grant", "--tenant", "bench", "100000000", env=env)
    secret = bridge("webhooks", "secret", "create", "--tenant", "bench", env=env).split()[-1]
    return key, secret


def signed_callouts(key: str, secret: str, count: int) -> Iterator[str]:
    """`count` distinct raw HTTP requests, each a signed callout for one lead."""
    now = int(time.time())
    for n in range(count):
        body = json.dumps(
            {"object": "Lead", "ids": [to_18(f"00Q5g{n:010d}")], "event": "after_insert",
             "org_id": ORG},
            separators=(",", ":"),
        )  # fmt: skip
        wid = f"msg_{n}"
        sig = sign(body.encode(), secret, wid, now)
        yield (
            f"POST /v1/triggers/salesforce HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"webhook-id: {wid}\r\nwebhook-timestamp: {now}\r\nwebhook-signature: {sig}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        )


def lua_requests(path: Path, key: str, secret: str, count: int) -> None:
    """A wrk script cycling through `count` distinct signed callouts (one lead each).

    The raw requests go to a data file read at start-up, one per line with `|` for CRLF:
    LuaJIT caps a function at 65,536 constants, so inlining tens of thousands of strings would
    silently fall back to `GET /`.
    """
    data = path.with_suffix(".requests")
    with data.open("w") as out:
        for raw in signed_callouts(key, secret, count):
            head, _, body = raw.partition("\r\n\r\n")
            out.write(head.replace("\r\n", "|") + "||" + body + "\n")
    path.write_text(
        "local reqs = {}\n"
        f"for line in io.lines({json.dumps(str(data))}) do\n"
        '  local head, body = line:match("^(.-||)(.*)$")\n'
        '  reqs[#reqs + 1] = head:gsub("|", "\\r\\n") .. body\n'
        "end\n"
        "local i = 0\n"
        "request = function() i = i + 1; if i > #reqs then i = 1 end; return reqs[i] end\n"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_second": rps,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--profile", type=Path, help="cProfile the web process into this file")
    parser.add_argument("--py-spy", type=Path, help="sample the web process with py-spy (raw)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    parser.add_argument(
        "--cpu-profile", type=Path, help="cProfile the web process by CPU time into this file"
    )
    opts = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="bridge-ingest-"))
    with redis_server(work) as redis_url:
        env = bridge_env(work, redis_url, BRIDGE_RATE_LIMIT_TRIGGERS_PER_MIN="100000000")
        key, secret = bench_tenant(env)
        script = work / "requests.lua"
        lua_requests(script, key, secret, opts.requests)

        bare_port, web_port = free_port(), free_port()
        bare = [sys.executable, str(Path(__file__).with_name("bare_handler.py")), str(bare_port)]
        with process(bare, env, work / "bare.log") as bare_proc:
            wait_http(f"http://127.0.0.1:{bare_port}/")
            cpu_before = cpu_seconds(bare_proc.pid)
            baseline = wrk(f"http://127.0.0.1:{bare_port}", opts.seconds, opts.connections, script)
            served = baseline["requests_per_second"] * opts.seconds
            baseline["web_cpu_us_per_request"] = round(
                (cpu_seconds(bare_proc.pid) - cpu_before) / max(served, 1) * 1e6, 1
            )
        report("ingest.bare_handler", **baseline)

        profile = ["-m", "cProfile", "-o", str(opts.profile)] if opts.profile else []
        web = [sys.executable, *profile, "-m", "bridge", "web", "--port", str(web_port)]
        if opts.cpu_profile:
            here = Path(__file__).with_name("cpu_profile_web.py")
            web = [sys.executable, str(here), str(opts.cpu_profile), "--port", str(web_port)]
        with process(web, env, work / "web.log") as web_proc:
            wait_http(f"http://127.0.0.1:{web_port}/healthz")
            spy = None
            if opts.py_spy:
                spy = subprocess.Popen(
                    ["py-spy", "record", "--threads", "--nonblocking", "-r", "250", "-f", "raw",
                     "-d", str(opts.seconds), "-o", str(opts.py_spy), "-p", str(web_proc.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            cpu_before = cpu_seconds(web_proc.pid)
            measured = wrk(f"http://127.0.0.1:{web_port}", opts.seconds, opts.connections, script)
            served = measured["requests_per_second"] * opts.seconds
            measured["web_cpu_us_per_request"] = round(
                (cpu_seconds(web_proc.pid) - cpu_before) / max(served, 1) * 1e6, 1
            )
            if spy is not None:
                spy.wait(30)
        report("ingest.bridge_signed_callouts", **measured)
        ratio = measured["requests_per_second"] / baseline["requests_per_second"]
        report("ingest.ratio", throughput_vs_bare=round(ratio, 3), goal=">= 0.5, p99 <= 25 ms")

        client = redis.Redis.from_url(redis_url)
        accepted = sum(1 for _ in client.scan_iter(f"{SEEN_PREFIX}*", count=10_000))
        batches: list[Batch] = []
        dispatcher = Dispatcher(client, batches.append, consumer="bench", linger=0)
        dispatcher.ensure_group()
        while dispatcher.step(block_ms=100):
            pass
        dispatcher.flush(force=True)
        ids = [item.id for b in batches for item in b.items]
        report(
            "ingest.exactly_once",
            accepted_callouts=accepted,
            ids_in_batches=len(ids),
            distinct_ids_in_batches=len(set(ids)),
            batches=len(batches),
            ok=accepted == len(ids) == len(set(ids)),
        )
    if opts.keep:
        print(f"work dir kept: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
