"""Matching speed: one candidate against 100,000 accounts (p50/p95), 100 candidates in one
request, and linking two 5,000-person files, each next to a naive baseline measured in the
same run (every pair scored in a Python loop, no blocking).

    .venv/bin/python -m benchmarks.match_speed [--accounts 100000] [--people 5000]

Prints one JSON object per figure.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from faker import Faker
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from benchmarks.match_data import company_row, make_company, people_files
from bridge.matching import files
from bridge.matching.index import MatchIndex
from bridge.matching.profiles import Profile, build_profile
from bridge.matching.rules import default_rules
from bridge.matching.service import MatchService


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def naive_pair(c: Profile, r: Profile) -> float:
    """The baseline's scorer: the same kinds of comparison, one pair at a time, in plain Python
    with RapidFuzz's scalar functions (what a first implementation would write)."""
    w = 0.0
    if c.person:
        if c.last and r.last:
            w += 6 if JaroWinkler.normalized_similarity(c.last, r.last) >= 0.92 else -6
        if c.first and r.first:
            w += 4 if JaroWinkler.normalized_similarity(c.first, r.first) >= 0.92 else -4
        if c.email and r.email:
            w += 11 if c.email == r.email else -1.5
    if c.company and r.company:
        sim = max(fuzz.token_sort_ratio(c.company, r.company), fuzz.ratio(c.company, r.company))
        w += 8 if sim >= 90 else -5
    if c.domain and r.domain:
        w += 8 if c.domain == r.domain else -2
    if c.phones and r.phones:
        w += 8 if set(c.phones) & set(r.phones) else -1
    if c.postal_code and r.postal_code:
        w += 2 if c.postal_code == r.postal_code else -1
    return 1 / (1 + 2 ** -(w - 9))


def naive_seconds_per_candidate(candidate: Profile, records: list[Profile]) -> float:
    """The baseline: every record scored, one pair at a time, no blocking."""
    started = time.perf_counter()
    best = max((naive_pair(candidate, r), r.id) for r in records)
    assert best
    return time.perf_counter() - started


def accounts_benchmark(n: int) -> None:
    rng = random.Random(3)
    fake = Faker("en_US")
    fake.seed_instance(3)
    taken: set[str] = set()
    companies = [make_company(fake, rng, taken) for _ in range(n)]
    records = []
    for i, c in enumerate(companies):
        row = company_row(c, f"001{i:012d}", rng, corrupt=False)
        records.append({
            "Id": row["id"], "Name": row["name"], "Website": row["website"], "Phone": row["phone"],
            "BillingStreet": row["street"], "BillingCity": row["city"],
            "BillingPostalCode": row["postal_code"],
        })  # fmt: skip
    index = MatchIndex()
    started = time.perf_counter()
    index.upsert("account", records)
    build = time.perf_counter() - started
    service = MatchService(lambda _t: index)
    rules = default_rules("account")

    def candidate() -> dict[str, str]:
        c = companies[rng.randrange(n)]
        row = company_row(c, "", rng, corrupt=True)
        return {k: v for k, v in row.items() if k != "id"}

    service.match_in(index, "account", [candidate()], rules)  # warm caches
    latencies = []
    for _ in range(300):
        one = [candidate()]
        t = time.perf_counter()
        service.match_in(index, "account", one, rules)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    sample = build_profile(candidate(), "account")
    all_records = list(index.objects["account"].profiles())
    naive_ms = statistics.median(
        naive_seconds_per_candidate(sample, all_records) * 1000 for _ in range(3)
    )
    emit(figure="one_candidate_vs_accounts", accounts=n, index_build_s=round(build, 2),
         p50_ms=round(statistics.median(latencies), 2), p95_ms=round(p95, 2), goal_p95_ms=50,
         naive_ms=round(naive_ms, 1), speedup=round(naive_ms / p95, 1),
         baseline="every account scored one pair at a time in a Python loop")  # fmt: skip
    batch_ms = []
    for _ in range(10):
        batch = [candidate() for _ in range(100)]
        t = time.perf_counter()
        service.match_in(index, "account", batch, rules)
        batch_ms.append((time.perf_counter() - t) * 1000)
    emit(figure="hundred_candidates_one_request", accounts=n,
         median_ms=round(statistics.median(batch_ms), 1), max_ms=round(max(batch_ms), 1),
         goal_ms=500, naive_ms=round(naive_ms * 100, 1),
         speedup=round(naive_ms * 100 / statistics.median(batch_ms), 1))  # fmt: skip


def people_benchmark(n: int) -> None:
    left, right, _truth = people_files(n)
    lt = files.Table([r["id"] for r in left], left, list(left[0]))
    rt = files.Table([r["id"] for r in right], right, list(right[0]))
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        files.link(lt, rt, default_rules("contact"), "contact")
        runs.append(time.perf_counter() - t)
    index = files.build_index(rt, "contact")
    sample = [build_profile(r, "contact") for r in left[:100]]
    everyone = list(index.profiles())
    naive = sum(naive_seconds_per_candidate(c, everyone) for c in sample) / len(sample) * n
    emit(figure="link_two_person_files", rows_each=n, median_s=round(statistics.median(runs), 2),
         best_s=round(min(runs), 2), goal_s=3, naive_s=round(naive, 1),
         speedup=round(naive / statistics.median(runs), 1),
         baseline="every pair in a Python loop (100 left rows measured, extrapolated)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=5_000)
    args = parser.parse_args()
    people_benchmark(args.people)
    accounts_benchmark(args.accounts)


if __name__ == "__main__":
    main()
