"""The production Elasticsearch adapter against each kind of server it may meet.

``osmem-server`` (the behaviour suite's server) is OpenSearch-compatible; the
media-type rules of Elasticsearch itself are played here by a small HTTP server
that answers ``GET /`` as the named release does and refuses, as Elasticsearch 8
does, any ``compatible-with`` major it does not speak (HTTP 400
``media_type_header_exception``, the error the compose stack hit with a 9.x client).
"""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from callcenter.search.documents import Document, SearchError
from tests.search.conftest import production_index


class _Elasticsearch(BaseHTTPRequestHandler):
    """``GET /`` and ``HEAD /{index}`` of an Elasticsearch ``server.release``; records request media types."""

    def log_message(self, *args):
        pass

    def _media_ok(self) -> bool:
        accepts = self.server.accepts
        for name in ("Accept", "Content-Type"):
            value = self.headers.get(name)
            found = re.search(r"compatible-with=(\d+)", value or "")
            if found and int(found.group(1)) not in accepts:
                body = json.dumps({"error": {"type": "media_type_header_exception",
                                             "reason": f"Invalid media-type value on headers [{name}]"},
                                   "status": 400}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return False
        return True

    def _answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Accept")))
        if not self._media_ok():
            return
        root = {"name": "es01", "cluster_name": "docker-cluster",
                "version": {"number": self.server.release, "build_flavor": "default"},
                "tagline": "You Know, for Search"}
        self._answer(200, json.dumps(root).encode())

    def do_HEAD(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Accept")))
        if self._media_ok():
            self._answer(404)


@pytest.fixture
def elasticsearch():
    def start(release: str, accepts: tuple[int, ...], port: int = 0):
        server = ThreadingHTTPServer(("127.0.0.1", port), _Elasticsearch)
        server.release, server.accepts, server.seen = release, accepts, []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}"

    servers = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("release,accepts", [("8.15.3", (7, 8)), ("9.1.0", (8, 9))])
def test_production_adapter_speaks_a_media_type_the_elasticsearch_release_accepts(elasticsearch, release, accepts):
    """Against Elasticsearch 8.15.3 (compose's) and 9.x the adapter identifies the server and its
    requests carry compatible-with=8, which both accept (a 9.x client's =9 is refused by 8.x)."""
    server, url = elasticsearch(release, accepts)
    index = production_index(url)
    assert index.search("停水") == []  # HEAD /hotline-test answered 404: no index yet, no error
    assert str(index.server) == f"elasticsearch {release}"
    api_calls = [accept for method, path, accept in server.seen if path != "/"]
    assert api_calls and all("compatible-with=8" in accept for accept in api_calls)


def test_elasticsearch_7_is_refused_with_the_supported_versions_named(elasticsearch):
    """A server older than the supported majors gets search.unsupported_version naming what is supported,
    and the adapter sends it nothing but the identifying GET /."""
    server, url = elasticsearch("7.17.9", (7,))
    index = production_index(url)
    with pytest.raises(SearchError) as refused:
        index.upsert([Document("workorder", "1", "停水", "我家停水了")])
    assert refused.value.error_id == "search.unsupported_version"
    assert "elasticsearch 8.x/9.x" in json.dumps(refused.value.details, ensure_ascii=False)
    assert [path for _, path, _ in server.seen] == ["/"]


def test_opensearch_answers_the_production_adapter_in_plain_json(osmem_clone):
    """osmem-server (OpenSearch 3.x, which refuses compatible-with bodies) is identified and the
    production adapter writes and finds a document there with plain JSON media types."""
    index = production_index(osmem_clone.url)
    index.upsert([Document("workorder", "W1", "小区停水", "我家停水了，三天没有水")])
    assert index.server.distribution == "opensearch" and index.server.supported
    assert [h.ref for h in index.search("停水")] == ["W1"]


def test_unreachable_search_server_is_a_stable_error_and_retried_on_next_use(elasticsearch):
    """With nothing listening the adapter raises search.unreachable; the same index connects once a
    server answers at its URL (no restart needed)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    index = production_index(f"http://127.0.0.1:{port}")
    with pytest.raises(SearchError) as refused:
        index.search("停水")
    assert refused.value.error_id == "search.unreachable"
    elasticsearch("8.15.3", (7, 8), port=port)
    assert index.search("停水") == [] and index.server.major == 8
