"""CPU per request in process: the ASGI app called directly (httpx's ASGI transport, one request at a time, no
network, no client process), on a bench.reads database. What the CPU figures of README's performance section
were measured with; `--profile` adds a pyinstrument profile of one query (pyinstrument is not a dependency:
`pip install pyinstrument`).

    .venv/bin/python -m bench.inprocess --size 1000 [--databases sqlite,pg] [--queries executions,pendingApprovals]
    .venv/bin/python -m bench.inprocess --size 1000 --queries executions --profile

Per query: `--rounds` rounds of `--requests` requests, rounds of all queries interleaved, and the minimum of the
rounds' CPU per request (process time: the event loop and the SQLite driver's thread together), beside
`{ __typename }` measured the same way. Not a throughput benchmark (that is bench.reads, with wrk): a tool to see
what one request costs and where.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from bench.kit.bodies import TYPENAME_BODY, graphql_reject_body
from bench.kit.scratch import DEFAULT_PG_ADMIN_URL, temporary_directory
from bench.kit.server import mint_token
from bench.reads import QUERIES, _build, _seed_reject_pool, _settings, make_database, query_body

WRITES = ("replay", "reject")
"""Besides the reads: `replay`, the identical replay of a decided reject (answered from a read), and `reject`,
a reject of a different awaiting step per request (the write path)."""


async def _measure(database: Any, args: argparse.Namespace, secret: str) -> dict[str, float]:
    import httpx  # noqa: PLC0415 - the bench imports the app lazily

    from app.server import create_app  # noqa: PLC0415 - as above

    app = create_app(_settings(database))
    token = mint_token(secret)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    chosen = [q for q in QUERIES if not args.queries or q[0] in args.queries]
    bodies: dict[str, Iterator[bytes]] = {"typename": itertools.repeat(TYPENAME_BODY)}
    bodies |= {label: itertools.repeat(query_body(f, s, d)) for label, f, s, d in chosen}
    if not args.queries or "replay" in args.queries:
        bodies["replay"] = itertools.repeat(graphql_reject_body(0))
    if not args.queries or "reject" in args.queries:
        bodies["reject"] = map(graphql_reject_body, itertools.count(1))
    best: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def one(body: bytes) -> None:
                response = await client.post("/graphql", content=body, headers=headers)
                if response.status_code != 200 or b'"errors"' in response.content:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.content[:300]!r}")

            await one(graphql_reject_body(0))  # the decision that `replay` repeats
            for body in bodies.values():  # warm-up: caches, pooled connections, prepared statements
                for _ in range(20):
                    await one(next(body))
            if args.profile:
                return await _profile(one, bodies, args)
            for _ in range(args.rounds):
                for label, body in bodies.items():
                    started = time.process_time()
                    for _ in range(args.requests):
                        await one(next(body))
                    spent = (time.process_time() - started) / args.requests * 1000
                    best[label] = min(best.get(label, spent), spent)
    return best


async def _profile(one: Any, bodies: dict[str, Iterator[bytes]], args: argparse.Namespace) -> dict[str, float]:
    from pyinstrument import Profiler  # noqa: PLC0415 - optional, only for --profile

    for label, body in bodies.items():
        if label == "typename":
            continue
        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        for _ in range(args.requests * args.rounds):
            await one(next(body))
        profiler.stop()
        print(profiler.output_text(unicode=False, show_all=False, color=False))
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="executions (default 1000)")
    parser.add_argument("--databases", default="sqlite", help="sqlite, pg or both (default sqlite)")
    parser.add_argument("--queries", type=lambda v: [q for q in v.split(",") if q], default=[])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile per query instead")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    secret = secrets.token_hex(32)
    with ExitStack() as cleanup:
        root = temporary_directory("bench-inprocess-", cleanup, keep=args.keep)
        for kind in ("sqlite", "pg"):
            if kind not in args.databases.split(","):
                continue
            database = make_database(kind, root, secret, cleanup, args)
            asyncio.run(_build(database, args.size, "realistic", 5))
            asyncio.run(_seed_reject_pool(database, (args.rounds + 1) * (args.requests + 20) + 1))
            best = asyncio.run(_measure(database, args, secret))
            for label, ms in best.items():
                ratio = best["typename"] / ms
                print(f"{kind:6} {args.size:>7}  {label:42} {ms:7.3f} ms CPU/request  typename/this {ratio:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
