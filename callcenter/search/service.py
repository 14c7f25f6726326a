"""The search service the web layer uses: keep the index fed, answer queries."""
from __future__ import annotations

import logging
import threading
import time

from callcenter.search.documents import Hit, SearchError
from callcenter.search.outbox import Feeder, Outbox, exclusive_round

log = logging.getLogger(__name__)


def make_index(config):
    """The configured engine: ``[search] engine = "embedded"`` (default) or ``"elasticsearch"``."""
    engine = config.get("search.engine", "embedded")
    if engine == "embedded":
        from callcenter.search.embedded import EmbeddedIndex

        return EmbeddedIndex(config.get("search.path", "var/search.sqlite3"))
    if engine == "elasticsearch":
        from callcenter.search.elastic import ElasticIndex

        # the client is made on first use, for the server's version (callcenter.search.elastic.connect)
        return ElasticIndex(url=config.get("search.url") or "http://127.0.0.1:9200",
                            timeout=float(config.get("search.timeout_seconds", 5)),
                            index=config.get("search.index", "hotline"),
                            analyzer=config.get("search.analyzer", "jieba"))
    raise SearchError("search.bad_engine", "未知的搜索引擎 / unknown search engine", http_status=500,
                      engine=str(engine)[:40], allowed=["embedded", "elasticsearch"])


class SearchService:
    """Feeds ``index`` from the database (via the outbox) at most every ``refresh_seconds``.

    Blocking: call from a thread pool.  A search never fails because the index
    is behind: it answers from what the index has and catches up next time.
    """

    def __init__(self, engine, index, *, knowledge=None, refresh_seconds: float = 2.0, clock=time.monotonic):
        self.engine = engine
        self.index = index
        self.feeder = Feeder(engine)
        self.outbox = Outbox(engine, index)
        self.knowledge = knowledge
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._last = None
        self._knowledge_queued = False
        self._lock = threading.Lock()

    def refresh(self, now, *, force: bool = False) -> int:
        """Queue changes and drain the outbox; returns how many operations reached the index."""
        with self._lock:
            tick = self._clock()
            if not force and self._last is not None and tick - self._last < self.refresh_seconds:
                return 0
            self._last = tick
            with exclusive_round(self.engine) as mine:
                if not mine:
                    return 0  # another process is feeding and draining right now
                if self.knowledge is not None and not self._knowledge_queued:
                    self.feeder.collect_knowledge(self.knowledge, now)
                    self._knowledge_queued = True
                self.feeder.collect(now)
                try:
                    return self.outbox.drain()
                except Exception:  # noqa: BLE001 - the outbox keeps the rows; searching goes on
                    log.exception("search index is behind; will retry")
                    return 0

    def search(self, query: str, kind: str | None, limit: int, now) -> list[Hit]:
        self.refresh(now)
        return self.index.search(query, kind, limit)
