"""Process-wide runtime tuning for the long-running commands (``serve``, ``demo``).

CPython's cyclic garbage collector starts a young-generation pass every 700
net allocations and, every 100 of those, walks every tracked object.  The
hotline allocates a few objects per AMI event (messages, timeline entries) and
keeps a large, long-lived object graph (tracked calls, the ACD, ORM metadata),
so at a few thousand events a second the default thresholds spend a fifth of
the CPU in the collector and stall the reactor for milliseconds on every full
pass (the AMI Ping p99 under load went from ~1 ms to 3-5 ms; ``callcenter
bench ami``).  Reference counting frees nearly everything here at once; the
collector only has to find rare cycles, so it can run far less often.

How much less is bounded by the pause: a young pass walks every object allocated
since the last one (and touches what they refer to, all over a 200 MB heap), so its
length grows with the young threshold.  At 50,000 a young pass took 12-52 ms of CPU
on the reactor thread under `callcenter bench capacity` (over 100 ms of reactor lag
once the OS also made it wait for a core), and a generation-1 pass over the calls in
flight 70 ms; at 10,000 the young pass takes ≤ 15 ms and generation 1 ≈ 16 ms, for the
same total collector CPU (~0.1-0.2 % of a core at 100,000 calls/hour).
``gc.freeze()`` after start-up keeps the imports and the start-up graph out of
every pass, so the full (generation-2) pass only walks what was built since.
"""
from __future__ import annotations

import gc

from callcenter.config import ConfigError

#: young-generation threshold, then the ratios for generations 1 and 2
GC_THRESHOLD = (10_000, 20, 100)


def parse_gc_threshold(value) -> tuple[int, int, int]:
    """Three positive integers (a list, or a comma-separated string from the environment)."""
    parts = value.split(",") if isinstance(value, str) else list(value or ())
    try:
        numbers = tuple(int(str(p).strip()) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != 3 or numbers[0] < 100 or min(numbers) < 1:
        raise ConfigError(f"runtime.gc_threshold={value!r}: expected three positive integers, the first at least 100")
    return numbers


def tune_gc(threshold=GC_THRESHOLD) -> tuple[int, int, int]:
    """Move everything allocated so far (imports, start-up) out of the collector's way
    (``gc.freeze``) and collect less often.  Call once the process has started."""
    values = parse_gc_threshold(threshold)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*values)
    return values
