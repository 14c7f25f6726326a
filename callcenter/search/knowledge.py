"""The knowledge base's ``search(query, level=None, limit=10)`` answered by a search index.

The desk keeps calling the same interface; :class:`IndexedKnowledge` maps hits
back to the knowledge base's own entry dictionaries and applies the level.
"""
from __future__ import annotations

from callcenter.search.documents import MAX_LIMIT


class IndexedKnowledge:
    def __init__(self, knowledge, index):
        self.knowledge = knowledge
        self.index = index
        self._by_id = {e.id: e for e in knowledge.entries}

    def search(self, query: str, level: str | None = None, limit: int = 10) -> list[dict]:
        """Like ``KnowledgeBase.search``; an empty query lists the level (no index needed)."""
        if not isinstance(query, str) or not query.strip():
            return self.knowledge.search(query, level, limit)
        self.knowledge.search("", level, limit)  # the knowledge base's own argument checks
        out = []
        for hit in self.index.search(query, "knowledge", MAX_LIMIT):
            entry = self._by_id.get(hit.ref)
            if entry is not None and (level is None or entry.level == level):
                out.append(entry.as_dict(hit.score))
            if len(out) == limit:
                break
        return out
