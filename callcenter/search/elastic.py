"""The Elasticsearch engine (official ``elasticsearch`` client).

Chinese analysis is configurable (``[search] analyzer``):

* ``jieba`` (default): we tokenize with jieba and index the space-joined
  tokens with the ``whitespace`` analyzer, so any cluster (no plugins) gives
  the same matches as the embedded index;
* the name of a server-side analyzer (``ik_max_word``, ``smartcn``, …): the raw
  text is indexed with it and queries are analysed by the server.
"""
from __future__ import annotations

from callcenter.search.documents import Document, Hit, SearchError, check_query, snippet, tokenize

TITLE_BOOST = 3


class ElasticIndex:
    """One Elasticsearch index holding every kind; ``refresh`` makes writes visible at once (tests, low volume)."""

    name = "elasticsearch"

    def __init__(self, client, index: str = "hotline", analyzer: str = "jieba", refresh: bool | str = False):
        self.client = client
        self.index = index
        self.analyzer = analyzer
        self.refresh = refresh

    def _text_mapping(self) -> dict:
        return {"type": "text", "analyzer": "whitespace" if self.analyzer == "jieba" else self.analyzer}

    def ensure(self) -> None:
        """Create the index with our mapping unless it exists."""
        if self.client.indices.exists(index=self.index):
            return
        self.client.indices.create(index=self.index, mappings={"properties": {
            "kind": {"type": "keyword"}, "ref": {"type": "keyword"},
            "title": {"type": "text", "index": False}, "body": {"type": "text", "index": False},
            "title_search": self._text_mapping(), "body_search": self._text_mapping(),
            "extra": {"type": "object", "enabled": False}}})

    def _source(self, doc: Document) -> dict:
        if self.analyzer == "jieba":
            title, body = " ".join(tokenize(doc.title)), " ".join(tokenize(doc.body))
        else:
            title, body = doc.title, doc.body
        return {"kind": doc.kind, "ref": doc.ref, "title": doc.title, "body": doc.body,
                "title_search": title, "body_search": body, "extra": doc.extra}

    def apply(self, operations) -> int:
        """Bulk-apply outbox operations; raises if any item failed (the outbox keeps them)."""
        from elasticsearch import helpers

        actions = []
        for op in operations:
            if op["op"] == "upsert":
                doc = Document.from_dict(op["document"])
                actions.append({"_op_type": "index", "_index": self.index, "_id": doc.key, "_source": self._source(doc)})
            else:
                actions.append({"_op_type": "delete", "_index": self.index, "_id": f"{op['kind']}:{op['ref']}"})
        if not actions:
            return 0
        self.ensure()
        ok, errors = helpers.bulk(self.client, actions, refresh=self.refresh, raise_on_error=False,
                                  raise_on_exception=True)
        failed = [e for e in errors if next(iter(e.values())).get("status") != 404]
        if failed:
            raise SearchError("search.bulk_failed", "索引写入失败 / bulk indexing failed", http_status=503,
                              failed=len(failed), first=str(failed[0])[:300])
        return len(actions)

    def upsert(self, documents) -> int:
        return self.apply([{"op": "upsert", "document": d.as_dict()} for d in documents])

    def delete(self, kind: str, ref: str) -> None:
        self.apply([{"op": "delete", "kind": kind, "ref": ref}])

    def search(self, query: str, kind: str | None = None, limit: int = 10) -> list[Hit]:
        query, kind, limit = check_query(query, kind, limit)
        words = list(dict.fromkeys(tokenize(query)))
        text = " ".join(words) if self.analyzer == "jieba" else query
        must = {"multi_match": {"query": text, "fields": [f"title_search^{TITLE_BOOST}", "body_search"],
                                "type": "cross_fields", "operator": "and"}}
        filters = [{"term": {"kind": kind}}] if kind else []
        try:
            if not self.client.indices.exists(index=self.index):
                return []
            result = self.client.search(index=self.index, size=limit,
                                        query={"bool": {"must": [must], "filter": filters}})
        except Exception as exc:  # noqa: BLE001 - the transport's errors are many; one stable error out
            raise SearchError("search.engine_failed", "搜索引擎不可用 / search engine unavailable", http_status=503,
                              reason=type(exc).__name__) from None
        hits = []
        for h in result["hits"]["hits"]:
            s = h["_source"]
            hits.append(Hit(s["kind"], s["ref"], s["title"], snippet(s["body"], words), float(h["_score"] or 0),
                            s.get("extra") or {}))
        return hits

    def count(self, kind: str | None = None) -> int:
        if not self.client.indices.exists(index=self.index):
            return 0
        self.client.indices.refresh(index=self.index)
        query = {"term": {"kind": kind}} if kind else {"match_all": {}}
        return int(self.client.count(index=self.index, query=query)["count"])
