"""The Elasticsearch engine (official ``elasticsearch`` client).

Chinese analysis is configurable (``[search] analyzer``):

* ``jieba`` (default): we tokenize with jieba and index the space-joined
  tokens with the ``whitespace`` analyzer, so any cluster (no plugins) gives
  the same matches as the embedded index;
* the name of a server-side analyzer (``ik_max_word``, ``smartcn``, …): the raw
  text is indexed with it and queries are analysed by the server.

Supported servers (README "Search"): **Elasticsearch 8.x and 9.x** and
**OpenSearch 2.x and 3.x**.  The client is the ``elasticsearch`` package of
major 8 (``pyproject.toml`` pins ``<9``): it sends ``compatible-with=8`` media
types, which Elasticsearch 8 speaks natively and 9 through its REST
compatibility with 8 (a 9.x client sends ``compatible-with=9``, which
Elasticsearch 8 refuses with HTTP 400 ``media_type_header_exception``).
OpenSearch refuses every ``compatible-with`` media type and sends no
``X-Elastic-Product`` header, so :func:`connect` first asks the server what it
is (``GET /`` in plain JSON) and, for OpenSearch, uses :class:`PlainJsonNode`.
Anything else (Elasticsearch 7, unknown products) is refused with
``search.unsupported_version`` naming the supported versions.
"""
from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import HttpHeaders, Urllib3HttpNode

from callcenter.search.documents import Document, Hit, SearchError, check_query, snippet, tokenize

TITLE_BOOST = 3

#: server distributions and the majors this adapter speaks
SUPPORTED = {"elasticsearch": (8, 9), "opensearch": (2, 3)}


def supported_text() -> str:
    return ", ".join(f"{name} {'/'.join(f'{m}.x' for m in majors)}" for name, majors in SUPPORTED.items())


@dataclass(frozen=True)
class ServerInfo:
    """What ``GET /`` says the search server is."""

    distribution: str
    version: str

    @property
    def major(self) -> int | None:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else None

    @property
    def supported(self) -> bool:
        return self.major in SUPPORTED.get(self.distribution, ())

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


def _split_credentials(url: str) -> tuple[str, dict]:
    """The URL without ``user:password@`` and the Authorization header they make."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
    return urlunsplit(parts._replace(netloc=netloc)), {"authorization": f"Basic {token}"}


def probe(url: str, timeout: float = 5.0) -> ServerInfo:
    """Ask the server what it is (plain ``application/json``, which every version accepts)."""
    import urllib3

    bare, auth = _split_credentials(url)
    try:
        response = urllib3.PoolManager(retries=False, timeout=timeout).request(
            "GET", bare.rstrip("/") + "/", headers={"accept": "application/json", **auth})
    except Exception as exc:  # noqa: BLE001 - connection errors are many; one stable error out
        raise SearchError("search.unreachable", "搜索引擎无法连接 / search engine unreachable", http_status=503,
                          url=bare, reason=type(exc).__name__) from None
    try:
        body = json.loads(response.data.decode("utf-8"))
        version = body["version"]
    except (ValueError, KeyError, TypeError):
        raise SearchError("search.unsupported_version", "不是受支持的搜索引擎 / not a supported search engine",
                          http_status=503, url=bare, status=response.status, supported=supported_text()) from None
    if response.status != 200 or not isinstance(version, dict):
        raise SearchError("search.unreachable", "搜索引擎无法连接 / search engine unreachable", http_status=503,
                          url=bare, status=response.status)
    return ServerInfo(str(version.get("distribution") or "elasticsearch").lower(), str(version.get("number") or ""))


class PlainJsonNode(Urllib3HttpNode):
    """The transport node for OpenSearch: plain ``application/json`` and
    ``application/x-ndjson`` media types instead of Elasticsearch's
    ``compatible-with`` ones (which OpenSearch refuses), and the product tag the
    Elasticsearch client checks on answers (OpenSearch does not send it)."""

    def perform_request(self, method, target, body=None, headers=None, **kwargs):
        plain = HttpHeaders(headers or {})
        for name in ("accept", "content-type"):
            value = plain.get(name)
            if value and "compatible-with" in value:
                plain[name] = "application/x-ndjson" if "ndjson" in value else "application/json"
        response = super().perform_request(method, target, body=body, headers=plain, **kwargs)
        if "x-elastic-product" not in response.meta.headers:
            response.meta.headers["X-Elastic-Product"] = "Elasticsearch"
        return response


def connect(url: str, timeout: float = 5.0, **client_options):
    """``(client, ServerInfo)`` for the server at ``url``, speaking the media types it
    accepts; :class:`SearchError` when it is unreachable or not a supported version."""
    from elasticsearch import Elasticsearch

    info = probe(url, timeout)
    if not info.supported:
        raise SearchError("search.unsupported_version", "搜索引擎版本不受支持 / search engine version not supported",
                          http_status=503, server=str(info), supported=supported_text())
    if info.distribution == "opensearch":
        client_options.setdefault("node_class", PlainJsonNode)
    return Elasticsearch(url, request_timeout=timeout, **client_options), info


class ElasticIndex:
    """One Elasticsearch index holding every kind; ``refresh`` makes writes visible at once (tests, low volume).

    Give it a ``client``, or a ``url``: then the client is made by :func:`connect` on first
    use (and again after a failed attempt), so a search server that is down at start-up
    or comes back later is picked up without a restart.
    """

    name = "elasticsearch"

    def __init__(self, client=None, index: str = "hotline", analyzer: str = "jieba", refresh: bool | str = False,
                 *, url: str | None = None, timeout: float = 5.0, client_options: dict | None = None):
        if client is None and not url:
            raise ValueError("ElasticIndex needs a client or a url")
        self._client = client
        self.url = url
        self.timeout = timeout
        self.client_options = dict(client_options or {})
        self.server: ServerInfo | None = None
        self._connecting = threading.Lock()
        self.index = index
        self.analyzer = analyzer
        self.refresh = refresh

    @property
    def client(self):
        if self._client is None:
            with self._connecting:
                if self._client is None:
                    self._client, self.server = connect(self.url, self.timeout, **self.client_options)
        return self._client

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
        client = self.client  # SearchError (unreachable, unsupported) as it is
        try:
            if not client.indices.exists(index=self.index):
                return []
            result = client.search(index=self.index, size=limit,
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
