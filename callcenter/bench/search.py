"""Search latency on the embedded index (SQLite FTS5 + jieba) over N synthetic work orders.

Builds an index of ``--orders`` work orders (default 100,000; ``--orders
1000000`` for the README figure) from realistic vocabulary (Ningbo places,
hotline categories and complaints), then times ``--queries`` agent searches of
one or two words (some restricted to work orders).  Reports indexing rate and
search p50/p95/p99 in milliseconds, by wall clock and as CPU time of the
searching thread (on a shared machine the wall clock includes waiting for a core).  The index file is temporary unless
``--path`` is given (an existing index of the right size is reused).
"""
from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from callcenter.search.documents import Document
from callcenter.search.embedded import EmbeddedIndex

def _places() -> tuple[str, ...]:
    """Subdistricts and towns of the old city and Yinzhou from the one place list (ticketing/taxonomy)."""
    from ticketing.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    return tuple(s.zh for code in ("haishu", "yinzhou") for s in taxonomy.district(code).subdistricts.values()
                 if not s.former)


PLACES = _places()
PROBLEMS = ("停水", "停电", "燃气泄漏", "噪音扰民", "占道经营", "违章搭建", "路灯损坏", "垃圾清运", "井盖缺失",
            "油烟污染", "拖欠工资", "物业纠纷", "电梯故障", "下水道堵塞", "公交线路", "共享单车乱停", "施工扰民",
            "绿化破坏", "消费投诉", "医保报销", "违章停车", "积水", "树木倒伏", "漏水", "供暖")
DETAILS = ("已经持续三天", "晚上十一点以后", "多次反映未解决", "影响老人出行", "小区门口", "学校附近", "菜市场旁边",
           "整栋楼", "周末尤其严重", "希望尽快处理", "存在安全隐患", "居民意见很大")
QUERY_WORDS = ("停水", "停电", "噪音", "路灯", "垃圾", "电梯", "物业", "积水", "望春", "鼓楼", "施工", "燃气", "违章",
               "工资", "公交")


def add_arguments(parser) -> None:
    parser.add_argument("--orders", type=int, default=100_000, help="work orders indexed (default 100000)")
    parser.add_argument("--queries", type=int, default=2000, help="timed searches (default 2000)")
    parser.add_argument("--limit", type=int, default=10, help="hits per search (default 10)")
    parser.add_argument("--batch", type=int, default=5000, help="documents per indexing transaction")
    parser.add_argument("--path", default=None, help="keep the index in this file (reused if it has --orders docs)")
    parser.add_argument("--seed", type=int, default=12345)


def order(i: int, rng: random.Random) -> Document:
    place, problem = rng.choice(PLACES), rng.choice(PROBLEMS)
    number = f"2026{(i // 100000) % 10000:04d}{i % 1000000:06d}"
    title = f"{number} {place}{problem}"
    body = f"{place}{rng.choice(DETAILS)}，{problem}{rng.choice(DETAILS)}。" + rng.choice(PROBLEMS)
    return Document("workorder", number, title, body, {"district": place})


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(args):
    rng = random.Random(args.seed)
    tmp = None
    path = args.path
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-search-")
        path = str(Path(tmp.name) / "search.sqlite3")
    index = EmbeddedIndex(path)
    try:
        existing = index.count("workorder")
        if existing != args.orders:
            if existing:
                raise SystemExit(f"{path} holds {existing} documents, not {args.orders}; use another --path")
            started = time.perf_counter()
            for start in range(0, args.orders, args.batch):
                index.upsert([order(i, rng) for i in range(start, min(args.orders, start + args.batch))])
            seconds = time.perf_counter() - started
            yield {"bench": "search", "phase": "index", "orders": args.orders, "seconds": round(seconds, 2),
                   "docs_per_second": round(args.orders / seconds),
                   "file_mb": round(Path(path).stat().st_size / 1e6, 1)}
        index.search("停水", limit=args.limit)  # warm the page cache and jieba
        timings, cpu, hits = [], [], 0
        for q in range(args.queries):
            words = " ".join(rng.sample(QUERY_WORDS, 1 if q % 2 else 2))
            kind = "workorder" if q % 3 == 0 else None
            t0, c0 = time.perf_counter(), time.thread_time()
            found = index.search(words, kind, args.limit)
            timings.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
            hits += len(found)
        timings.sort()
        cpu.sort()
        yield {"bench": "search", "phase": "query", "orders": args.orders, "queries": args.queries,
               "p50_ms": round(_pct(timings, 50), 2), "p95_ms": round(_pct(timings, 95), 2),
               "p99_ms": round(_pct(timings, 99), 2), "max_ms": round(timings[-1], 2),
               "cpu_p50_ms": round(_pct(cpu, 50), 2), "cpu_p95_ms": round(_pct(cpu, 95), 2),
               "mean_hits": round(hits / args.queries, 1)}
    finally:
        index.close()
        if tmp is not None:
            tmp.cleanup()
