"""Search for agents: work orders, transcripts and the knowledge base.

Two engines behind one interface (:class:`~callcenter.search.documents.SearchIndex`):
the embedded SQLite FTS5 index with jieba tokens (the default, its own file even
when the main database is PostgreSQL) and Elasticsearch (production).  Changes
reach either through the ``search_outbox`` table, so an index that was down
catches up when it returns.
"""
from callcenter.search.documents import KINDS, Document, Hit, SearchError, tokenize

__all__ = ["KINDS", "Document", "Hit", "SearchError", "tokenize"]
