"""The embedded engine: SQLite FTS5 over jieba tokens, in its own file.

It is a separate SQLite file (not the main database), so it serves the same
way whether the service runs on SQLite or PostgreSQL.  Documents live in
``docs``; one FTS5 table per kind holds their tokens (space-joined jieba
output, so the ``unicode61`` tokenizer only splits on the spaces we put there),
so a kind filter costs nothing and a search over all kinds merges three small
top-N answers.  Ranking is FTS5's BM25 (the title weighted above the body),
computed inside FTS5 (``ORDER BY rank LIMIT n``) before any join.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from callcenter.search.documents import KINDS, Document, Hit, SearchError, check_query, snippet, tokenize

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, ref TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, extra TEXT NOT NULL);
"""
TITLE_WEIGHT = 3.0


def _fts(kind: str) -> str:
    if kind not in KINDS:
        raise SearchError("search.bad_kind", "未知的搜索类别 / unknown kind", kind=str(kind)[:30], allowed=list(KINDS))
    return f"fts_{kind}"


def _quoted(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


class EmbeddedIndex:
    """One FTS5 file; safe to call from several threads (one connection, one lock)."""

    name = "embedded"

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        for kind in KINDS:
            table = _fts(kind)
            exists = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            if not exists:
                self._conn.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(title, body, "
                                   "tokenize = 'unicode61 remove_diacritics 0')")
                self._conn.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('rank', 'bm25({TITLE_WEIGHT}, 1.0)')")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def apply(self, operations) -> int:
        """Apply outbox operations (``{"op": "upsert"|"delete", ...}``) in one transaction."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for op in operations:
                    if op["op"] == "upsert":
                        self._upsert(cur, Document.from_dict(op["document"]))
                    else:
                        self._delete(cur, f"{op['kind']}:{op['ref']}")
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return len(operations)

    def upsert(self, documents) -> int:
        return self.apply([{"op": "upsert", "document": d.as_dict()} for d in documents])

    def delete(self, kind: str, ref: str) -> None:
        self.apply([{"op": "delete", "kind": kind, "ref": ref}])

    def _delete(self, cur, key: str) -> None:
        row = cur.execute("SELECT id, kind FROM docs WHERE key = ?", (key,)).fetchone()
        if row:
            cur.execute(f"DELETE FROM {_fts(row[1])} WHERE rowid = ?", (row[0],))
            cur.execute("DELETE FROM docs WHERE id = ?", (row[0],))

    def _upsert(self, cur, doc: Document) -> None:
        self._delete(cur, doc.key)
        cur.execute("INSERT INTO docs (key, kind, ref, title, body, extra) VALUES (?, ?, ?, ?, ?, ?)",
                    (doc.key, doc.kind, doc.ref, doc.title, doc.body, json.dumps(doc.extra, ensure_ascii=False)))
        title = " ".join(tokenize(doc.title))
        body = " ".join(tokenize(doc.body))
        cur.execute(f"INSERT INTO {_fts(doc.kind)} (rowid, title, body) VALUES (?, ?, ?)", (cur.lastrowid, title, body))

    def search(self, query: str, kind: str | None = None, limit: int = 10) -> list[Hit]:
        """Documents holding every query word, best first."""
        query, kind, limit = check_query(query, kind, limit)
        words = list(dict.fromkeys(tokenize(query)))
        match = " ".join(_quoted(w) for w in words)
        try:
            with self._lock:
                ranked = []
                for k in ([kind] if kind else KINDS):
                    table = _fts(k)
                    ranked += self._conn.execute(f"SELECT rowid, rank FROM {table} WHERE {table} MATCH ? "
                                                 "ORDER BY rank LIMIT ?", (match, limit)).fetchall()
                ranked = sorted(ranked, key=lambda r: (r[1], r[0]))[:limit]
                docs = {}
                if ranked:
                    marks = ",".join("?" * len(ranked))
                    for row in self._conn.execute(f"SELECT id, kind, ref, title, body, extra FROM docs "
                                                  f"WHERE id IN ({marks})", [r[0] for r in ranked]):
                        docs[row[0]] = row[1:]
        except sqlite3.OperationalError as exc:
            raise SearchError("search.engine_failed", "搜索失败 / search failed", http_status=503,
                              reason=str(exc)[:200]) from None
        hits = []
        for rowid, rank in ranked:
            k, ref, title, body, extra = docs[rowid]
            hits.append(Hit(k, ref, title, snippet(body, words), -rank, json.loads(extra)))
        return hits

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            if kind:
                return self._conn.execute("SELECT count(*) FROM docs WHERE kind = ?", (kind,)).fetchone()[0]
            return self._conn.execute("SELECT count(*) FROM docs").fetchone()[0]
