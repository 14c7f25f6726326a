"""Supervisors' edits of the knowledge base, kept in the database over the shipped YAML.

A row in ``knowledge_entries`` replaces the shipped entry with the same id, or adds a new one;
``retired`` hides an entry (shipped or not) from the desk.  Every save is checked like the YAML
(three levels, zh and en title and body, a transfer line of digits), replaces the entries of the
process's knowledge base in place — the desk's search answers from it at once — and queues the
entry for the search index in the same transaction.
"""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, String, Table, Text, select
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.db import metadata
from callcenter.knowledge import LEVELS, Entry, KnowledgeBase, KnowledgeError, _entry, default_knowledge
from ticketing.persistence.tables import UtcDateTime

knowledge_entries = Table(
    "knowledge_entries", metadata,
    Column("id", String(64), primary_key=True),
    Column("level", String(16), nullable=False),
    Column("title_zh", String(200), nullable=False),
    Column("title_en", String(200), nullable=False),
    Column("body_zh", Text, nullable=False),
    Column("body_en", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("line", String(20)),
    Column("retired", Boolean, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

FIELDS = ("id", "level", "title", "body", "tags", "line", "retired")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_TITLE, MAX_BODY, MAX_TAGS = 200, 4000, 20


def check(raw) -> tuple[Entry, bool]:
    """An entry from a supervisor's input (every problem named at once), and whether it is retired."""
    if not isinstance(raw, dict):
        raise KnowledgeError("knowledge.bad_entry", "知识条目须为对象 / an entry must be an object", http_status=400)
    problems = {str(k)[:40]: "unknown field" for k in raw if k not in FIELDS}
    if not isinstance(raw.get("id"), str) or not _ID.match(raw["id"]):
        problems["id"] = "2-63 lower-case letters, digits and '-'"
    if raw.get("level") not in LEVELS:
        problems["level"] = f"one of {list(LEVELS)}"
    for key, limit in (("title", MAX_TITLE), ("body", MAX_BODY)):
        value = raw.get(key)
        for lang in ("zh", "en"):
            text = value.get(lang) if isinstance(value, dict) else None
            if not isinstance(text, str) or not text.strip():
                problems[f"{key}.{lang}"] = "required"
            elif len(text) > limit or "\x00" in text:
                problems[f"{key}.{lang}"] = f"at most {limit} characters"
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or len(tags) > MAX_TAGS or not all(
            isinstance(t, str) and 0 < len(t.strip()) <= 40 for t in tags):
        problems["tags"] = f"up to {MAX_TAGS} words of at most 40 characters"
    line = raw.get("line")
    if line not in (None, "") and (not isinstance(line, str) or not line.isdigit() or len(line) > 20):
        problems["line"] = "digits"
    if not isinstance(raw.get("retired", False), bool):
        problems["retired"] = "true or false"
    if problems:
        raise KnowledgeError("knowledge.invalid", "知识条目无效 / invalid knowledge entry", http_status=422,
                             problems=problems)
    clean = {"id": raw["id"], "level": raw["level"],
             "title": {k: raw["title"][k].strip() for k in ("zh", "en")},
             "body": {k: raw["body"][k].strip() for k in ("zh", "en")},
             "tags": [t.strip() for t in tags], "line": line or None}
    return _entry(clean), bool(raw.get("retired", False))


class KnowledgeStore:
    """The shipped entries plus the database's edits, applied to one :class:`KnowledgeBase`."""

    def __init__(self, engine, knowledge: KnowledgeBase | None = None, shipped: KnowledgeBase | None = None):
        self.engine = engine
        self.knowledge = knowledge if knowledge is not None else default_knowledge()
        self.shipped = list((shipped or KnowledgeBase.load()).entries)

    def rows(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(knowledge_entries)).mappings()]

    def merged(self) -> tuple[list[Entry], set[str], dict[str, dict]]:
        """(entries the desk sees, retired ids, edit rows by id)."""
        edits = {r["id"]: r for r in self.rows()}
        entries: dict[str, Entry] = {e.id: e for e in self.shipped}
        for ident, r in edits.items():
            entries[ident] = Entry(ident, r["level"], {"zh": r["title_zh"], "en": r["title_en"]},
                                   {"zh": r["body_zh"], "en": r["body_en"]}, tuple(r["tags"] or ()), r["line"])
        retired = {i for i, r in edits.items() if r["retired"]}
        return [e for i, e in entries.items() if i not in retired], retired, edits

    def load(self) -> list[Entry]:
        """Apply the database's edits to the knowledge base (at start-up, and after each save)."""
        entries, _, _ = self.merged()
        self.knowledge.replace(entries)
        return entries

    def listing(self) -> list[dict]:
        """Every entry a supervisor may edit, retired ones included, with where it comes from."""
        entries, retired, edits = self.merged()
        shown = {e.id: e for e in entries}
        for ident in retired:
            r = edits[ident]
            shown[ident] = Entry(ident, r["level"], {"zh": r["title_zh"], "en": r["title_en"]},
                                 {"zh": r["body_zh"], "en": r["body_en"]}, tuple(r["tags"] or ()), r["line"])
        shipped = {e.id for e in self.shipped}
        out = []
        for ident in sorted(shown, key=lambda i: (LEVELS.index(shown[i].level), i)):
            item = shown[ident].as_dict()
            edit = edits.get(ident)
            item.update(retired=ident in retired, shipped=ident in shipped, edited=edit is not None,
                        updated_by=edit["updated_by"] if edit else None,
                        updated_at=edit["updated_at"].isoformat() if edit else None)
            out.append(item)
        return out

    def save(self, raw, *, by: str, now: datetime) -> dict:
        """Add or replace one entry (checked first: a bad one changes nothing)."""
        from callcenter.search.outbox import enqueue_delete, enqueue_upsert, knowledge_document

        entry, retired = check(raw)
        values = {"level": entry.level, "title_zh": entry.title["zh"], "title_en": entry.title["en"],
                  "body_zh": entry.body["zh"], "body_en": entry.body["en"], "tags": list(entry.tags),
                  "line": entry.line, "retired": retired, "updated_by": str(by)[:64], "updated_at": now}
        with self.engine.begin() as conn:
            ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(knowledge_entries)
            conn.execute(ins.values(id=entry.id, **values).on_conflict_do_update(index_elements=["id"], set_=values))
            if retired:
                enqueue_delete(conn, "knowledge", entry.id, now)
            else:
                enqueue_upsert(conn, knowledge_document(entry), now)
        self.load()
        return next(item for item in self.listing() if item["id"] == entry.id)
