"""The embedded engine: SQLite FTS5 over jieba tokens, in its own file.

It is a separate SQLite file (not the main database), so it serves the same
way whether the service runs on SQLite or PostgreSQL.  Documents live in
``docs``; ``fts`` holds their tokens (space-joined jieba output, so the FTS5
``unicode61`` tokenizer only splits on the spaces we put there) plus a kind
marker token, so a kind filter is part of the full-text match, not a scan.
Ranking is FTS5's BM25 with the title weighted above the body.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from callcenter.search.documents import Document, Hit, SearchError, check_query, snippet, tokenize

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, ref TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, extra TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0');
"""
TITLE_WEIGHT = 3.0


def _kind_token(kind: str) -> str:
    return f"kind{kind}marker"


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
        row = cur.execute("SELECT id FROM docs WHERE key = ?", (key,)).fetchone()
        if row:
            cur.execute("DELETE FROM fts WHERE rowid = ?", row)
            cur.execute("DELETE FROM docs WHERE id = ?", row)

    def _upsert(self, cur, doc: Document) -> None:
        self._delete(cur, doc.key)
        cur.execute("INSERT INTO docs (key, kind, ref, title, body, extra) VALUES (?, ?, ?, ?, ?, ?)",
                    (doc.key, doc.kind, doc.ref, doc.title, doc.body, json.dumps(doc.extra, ensure_ascii=False)))
        title = " ".join(tokenize(doc.title))
        body = " ".join(tokenize(doc.body) + [_kind_token(doc.kind)])
        cur.execute("INSERT INTO fts (rowid, title, body) VALUES (?, ?, ?)", (cur.lastrowid, title, body))

    def search(self, query: str, kind: str | None = None, limit: int = 10) -> list[Hit]:
        """Documents holding every query word, best first."""
        query, kind, limit = check_query(query, kind, limit)
        words = list(dict.fromkeys(tokenize(query)))
        match = " ".join(_quoted(w) for w in words)
        if kind:
            match += " " + _quoted(_kind_token(kind))
        sql = ("SELECT d.kind, d.ref, d.title, d.body, d.extra, bm25(fts, ?, 1.0) AS rank FROM fts "
               "JOIN docs d ON d.id = fts.rowid WHERE fts MATCH ? ORDER BY rank LIMIT ?")
        try:
            with self._lock:
                rows = self._conn.execute(sql, (TITLE_WEIGHT, match, limit)).fetchall()
        except sqlite3.OperationalError as exc:
            raise SearchError("search.engine_failed", "搜索失败 / search failed", http_status=503,
                              reason=str(exc)[:200]) from None
        return [Hit(k, ref, title, snippet(body, words), -rank, json.loads(extra))
                for k, ref, title, body, extra, rank in rows]

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            if kind:
                return self._conn.execute("SELECT count(*) FROM docs WHERE kind = ?", (kind,)).fetchone()[0]
            return self._conn.execute("SELECT count(*) FROM docs").fetchone()[0]
