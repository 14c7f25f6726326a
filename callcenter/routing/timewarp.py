"""Accelerated time for simulations: one reactor, everything ``speed`` times faster.

The PBX simulator scales its own scripted delays by ``speed``; giving the
controller (and its AMI client) a :class:`ScaledClock` with the same speed
puts both in one simulated time line, so a busy hour runs in a minute while
every wait, ring timeout and wrap-up keeps its real length in call time.
"""
from __future__ import annotations


class ScaledClock:
    """An ``IReactorTime`` view of ``reactor`` running ``speed`` times faster."""

    def __init__(self, reactor, speed: float, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.reactor = reactor
        self.speed = float(speed)
        self._origin_real = reactor.seconds()
        self._origin = self._origin_real if start is None else float(start)

    def seconds(self) -> float:
        return self._origin + (self.reactor.seconds() - self._origin_real) * self.speed

    def callLater(self, delay: float, callable, *args, **kw):
        return self.reactor.callLater(max(0.0, delay) / self.speed, callable, *args, **kw)

    def getDelayedCalls(self):
        return self.reactor.getDelayedCalls()

    def getThreadPool(self):
        return self.reactor.getThreadPool()

    def callInThread(self, *args, **kw):
        return self.reactor.callInThread(*args, **kw)

    def callFromThread(self, *args, **kw):
        return self.reactor.callFromThread(*args, **kw)
