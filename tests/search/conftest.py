"""Both search engines behind one fixture, so one behaviour suite runs on each.

The Elasticsearch engine is the production adapter exactly as ``serve`` builds
it (``make_index`` with ``[search] engine = "elasticsearch"``): it asks the
server what it is and speaks the media types that server accepts.  The server
is ``osmem-server`` (an in-memory OpenSearch-compatible server, reporting
OpenSearch 3.x), so these tests exercise the adapter's OpenSearch path; the
Elasticsearch 8/9 path is checked at the protocol level in ``test_elastic_versions.py``.
"""
from __future__ import annotations

import pytest

from callcenter.config import load_config


def production_index(url: str, index: str = "hotline-test"):
    """The index ``serve`` would build for ``url`` (writes visible at once for the tests)."""
    from callcenter.search.service import make_index

    config = load_config(None, environ={"CALLCENTER_SEARCH_ENGINE": "elasticsearch", "CALLCENTER_SEARCH_URL": url,
                                        "CALLCENTER_SEARCH_INDEX": index})
    made = make_index(config)
    made.refresh = True
    return made


@pytest.fixture(params=["embedded", "elasticsearch"])
def index(request, tmp_path):
    """An empty index of each engine."""
    if request.param == "embedded":
        from callcenter.search.embedded import EmbeddedIndex

        idx = EmbeddedIndex(tmp_path / "search.sqlite3")
        yield idx
        idx.close()
    else:
        clone = request.getfixturevalue("osmem_clone")
        yield production_index(clone.url)
