"""Both search engines behind one fixture, so one behaviour suite runs on each.

The Elasticsearch adapter talks to ``osmem-server`` (an in-memory
OpenSearch-compatible server).  It rejects the client's ``compatible-with``
media types, so the client gets :class:`PlainJsonNode`, which sends plain
``application/json`` (and ``application/x-ndjson`` for bulk) and tags answers
with the product header the client checks.
"""
from __future__ import annotations

import pytest
from elastic_transport import HttpHeaders, Urllib3HttpNode


class PlainJsonNode(Urllib3HttpNode):
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


def elastic_client(url: str):
    from elasticsearch import Elasticsearch

    return Elasticsearch(url, node_class=PlainJsonNode, request_timeout=5, max_retries=0)


@pytest.fixture(params=["embedded", "elasticsearch"])
def index(request, tmp_path):
    """An empty index of each engine."""
    if request.param == "embedded":
        from callcenter.search.embedded import EmbeddedIndex

        idx = EmbeddedIndex(tmp_path / "search.sqlite3")
        yield idx
        idx.close()
    else:
        from callcenter.search.elastic import ElasticIndex

        clone = request.getfixturevalue("osmem_clone")
        yield ElasticIndex(elastic_client(clone.url), index="hotline-test", refresh=True)
