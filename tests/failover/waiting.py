"""Waiting on real processes (kill -9, the simulator over TCP): wall time, since the processes under test
run on their own clocks — a fake clock cannot advance them."""
from __future__ import annotations

import time

from twisted.internet import task


def sleep(reactor, seconds):
    return task.deferLater(reactor, seconds, lambda: None)


async def until(reactor, predicate, limit, step=0.2, why=lambda: ""):
    """Poll ``predicate`` every ``step`` s; fail naming ``why()`` if it is still false after ``limit`` s."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, f"condition not reached in {limit} s {why()}"
        await sleep(reactor, step)
