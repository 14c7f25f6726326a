"""The desk's knowledge base: public policy answers, internal procedures and department contacts.

Entries ship as YAML (zh and en) beside this module.  :class:`KnowledgeBase`
keeps the small interface the desk uses — ``search(query, level=None,
limit=10)`` — so a full-text engine can later stand behind it unchanged.  The
built-in search scores Chinese by character bigrams and English by words,
weighting tags and titles above the body.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from callcenter.errors import HotlineError

LEVELS = ("public", "internal", "contacts")
LEVEL_NAMES = {"public": {"zh": "政策解答", "en": "Policy answers"},
               "internal": {"zh": "内部流程", "en": "Internal procedures"},
               "contacts": {"zh": "部门联系方式", "en": "Department contacts"}}
DATA = Path(__file__).parent / "entries.yaml"
MAX_QUERY = 100
MAX_LIMIT = 50

_HAN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")


class KnowledgeError(HotlineError):
    """Bad data or a bad query; ``error_id`` is stable."""


@dataclass(frozen=True)
class Entry:
    id: str
    level: str
    title: dict
    body: dict
    tags: tuple[str, ...] = ()
    line: str | None = None

    def as_dict(self, score: float | None = None) -> dict:
        out = {"id": self.id, "level": self.level, "level_name": LEVEL_NAMES[self.level],
               "title": dict(self.title), "body": dict(self.body), "tags": list(self.tags), "line": self.line}
        if score is not None:
            out["score"] = round(score, 3)
        return out


def terms(text: str) -> set[str]:
    """Chinese character bigrams (single characters for one-character runs) and lower-case words."""
    text = text.lower()
    out = set(_WORD.findall(text))
    for run in _HAN.findall(text):
        if len(run) == 1:
            out.add(run)
        else:
            out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def _entry(raw) -> Entry:
    if not isinstance(raw, dict):
        raise KnowledgeError("knowledge.bad_entry", "知识条目须为映射 / an entry must be a mapping")
    ident = raw.get("id")
    if not isinstance(ident, str) or not ident:
        raise KnowledgeError("knowledge.bad_entry", "知识条目缺少 id / an entry needs an id")
    if raw.get("level") not in LEVELS:
        raise KnowledgeError("knowledge.bad_level", "未知的知识层级 / unknown level", entry=ident,
                             allowed=list(LEVELS))
    for key in ("title", "body"):
        value = raw.get(key)
        if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) and value[lang]
                                                  for lang in ("zh", "en")):
            raise KnowledgeError("knowledge.missing_text", f"{key} 须有中英文 / {key} needs zh and en text",
                                 entry=ident, field=key)
    line = raw.get("line")
    if line is not None and (not isinstance(line, str) or not line.isdigit()):
        raise KnowledgeError("knowledge.bad_line", "转接线路须为数字 / a line is digits", entry=ident)
    return Entry(ident, raw["level"], dict(raw["title"]), dict(raw["body"]),
                 tuple(str(t) for t in raw.get("tags") or ()), line)


class KnowledgeBase:
    """Entries in memory with a bigram/word index."""

    def __init__(self, entries):
        self.replace(entries)

    def replace(self, entries) -> None:
        """Swap in a new set of entries (supervisors' edits), in place, so every holder sees them at once."""
        entries = list(entries)
        ids = [e.id for e in entries]
        if len(ids) != len(set(ids)):
            raise KnowledgeError("knowledge.duplicate_id", "知识条目 id 重复 / duplicate entry ids")
        index = [(e, terms(" ".join(e.tags)), terms(e.title["zh"] + " " + e.title["en"]),
                  terms(e.body["zh"] + " " + e.body["en"])) for e in entries]
        self.entries, self._index = entries, index

    @classmethod
    def load(cls, path: Path | str = DATA) -> "KnowledgeBase":
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
        if not isinstance(raw, list):
            raise KnowledgeError("knowledge.bad_file", "知识库文件须为列表 / the file must hold a list")
        return cls(_entry(item) for item in raw)

    def search(self, query: str, level: str | None = None, limit: int = 10) -> list[dict]:
        """Entries matching ``query`` best first (all of ``level`` for an empty query)."""
        if not isinstance(query, str) or len(query) > MAX_QUERY or "\x00" in query:
            raise KnowledgeError("knowledge.bad_query", f"查询须为不超过{MAX_QUERY}字的文本 / "
                                 f"the query must be text up to {MAX_QUERY} characters")
        if level is not None and level not in LEVELS:
            raise KnowledgeError("knowledge.bad_level", "未知的知识层级 / unknown level", level=str(level)[:20],
                                 allowed=list(LEVELS))
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise KnowledgeError("knowledge.bad_limit", f"条数须为 1-{MAX_LIMIT} / limit must be 1-{MAX_LIMIT}")
        wanted = terms(query)
        ranked = []
        for entry, tag_terms, title_terms, body_terms in self._index:
            if level is not None and entry.level != level:
                continue
            if not wanted:
                ranked.append((0.0, entry))
                continue
            score = 3 * len(wanted & tag_terms) + 2 * len(wanted & title_terms) + len(wanted & body_terms)
            if score:
                ranked.append((score / len(wanted), entry))
        ranked.sort(key=lambda item: (-item[0], item[1].id))
        return [entry.as_dict(score) for score, entry in ranked[:limit]]


_DEFAULT: KnowledgeBase | None = None


def default_knowledge() -> KnowledgeBase:
    """The shipped entries, loaded once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = KnowledgeBase.load()
    return _DEFAULT


def search(query: str, level: str | None = None, limit: int = 10) -> list[dict]:
    return default_knowledge().search(query, level, limit)
