"""What is indexed and found: documents, hits, tokens and query checks (pure)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from callcenter.errors import HotlineError

KINDS = ("workorder", "transcript", "knowledge")
MAX_QUERY = 200
MAX_LIMIT = 50

_TOKEN = re.compile(r"[\w]+", re.UNICODE)


class SearchError(HotlineError):
    """A bad query or an engine failure; ``error_id`` is stable."""


@dataclass(frozen=True)
class Document:
    """One searchable thing.  ``ref`` is its id within ``kind``; ``extra`` is shown, not searched."""

    kind: str
    ref: str
    title: str
    body: str
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "ref": self.ref, "title": self.title, "body": self.body, "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: dict) -> "Document":
        return cls(data["kind"], data["ref"], data["title"], data["body"], dict(data.get("extra") or {}))


@dataclass(frozen=True)
class Hit:
    kind: str
    ref: str
    title: str
    snippet: str
    score: float
    extra: dict

    def as_dict(self) -> dict:
        return {"kind": self.kind, "ref": self.ref, "title": self.title, "snippet": self.snippet,
                "score": round(self.score, 4), "extra": self.extra}


def _jieba():
    import jieba

    if not getattr(jieba, "_hotline_quiet", False):
        import logging

        jieba.setLogLevel(logging.WARNING)
        jieba._hotline_quiet = True
    return jieba


def tokenize(text: str) -> list[str]:
    """Search tokens: jieba's search-mode words (Chinese) and lower-case words, punctuation dropped.

    Search mode also emits the shorter words inside long ones (停水通知 → 停水, 通知),
    so a query word matches inside a longer indexed compound.
    """
    out = []
    for word in _jieba().cut_for_search(text.lower(), HMM=False):
        out.extend(_TOKEN.findall(word))
    return out


def check_query(query, kind, limit) -> tuple[str, str | None, int]:
    """The validated ``(query, kind, limit)`` or a :class:`SearchError` naming the bad part."""
    if not isinstance(query, str) or "\x00" in query or len(query) > MAX_QUERY:
        raise SearchError("search.bad_query", f"查询须为不超过{MAX_QUERY}字的文本 / the query must be text "
                          f"up to {MAX_QUERY} characters")
    if kind is not None and kind not in KINDS:
        raise SearchError("search.bad_kind", "未知的搜索类别 / unknown kind", kind=str(kind)[:30],
                          allowed=list(KINDS))
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise SearchError("search.bad_limit", f"条数须为 1-{MAX_LIMIT} / limit must be 1-{MAX_LIMIT}")
    if not tokenize(query):
        raise SearchError("search.empty_query", "请输入搜索词 / enter something to search for")
    return query, kind, limit


def snippet(text: str, query_tokens: list[str], width: int = 80) -> str:
    """A window of ``text`` around the first query token found (plain text; pages escape it)."""
    lowered = text.lower()
    positions = [lowered.find(t) for t in query_tokens if lowered.find(t) >= 0]
    start = max(0, min(positions) - width // 4) if positions else 0
    piece = text[start:start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")
