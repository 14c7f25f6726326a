"""The desk's knowledge base: shipped data is complete, search ranks and filters, bad input is refused."""
from __future__ import annotations

import pytest

from callcenter.knowledge import LEVELS, KnowledgeError, _entry, default_knowledge, search, terms


def test_shipped_entries_cover_every_level_in_both_languages():
    """Every level has entries, each with Chinese and English title and body; contacts carry a line."""
    kb = default_knowledge()
    assert {e.level for e in kb.entries} == set(LEVELS)
    assert all(e.title["zh"] and e.title["en"] and e.body["zh"] and e.body["en"] for e in kb.entries)
    assert all(e.line and e.line.isdigit() for e in kb.entries if e.level == "contacts")


def test_search_finds_by_chinese_and_english_and_filters_by_level():
    """Chinese bigrams and English words both find the right entry first; level narrows the results."""
    assert search("家里停水了")[0]["id"] == "pub-water-outage"
    assert search("gas leak")[0]["id"] == "contact-gas"
    assert search("社保转移", level="contacts")[0]["id"] == "contact-social-insurance"
    assert all(r["level"] == "internal" for r in search("", level="internal"))
    assert len(search("", limit=2)) == 2
    assert search("完全无关的火星话题") == []


def test_bad_queries_and_bad_data_are_refused():
    """Unknown level, oversized query, bad limit and malformed entries raise errors with stable ids."""
    for kwargs, error_id in (({"level": "secret"}, "knowledge.bad_level"), ({"limit": 0}, "knowledge.bad_limit")):
        with pytest.raises(KnowledgeError) as exc:
            search("水", **kwargs)
        assert exc.value.error_id == error_id
    with pytest.raises(KnowledgeError):
        search("水" * 101)
    with pytest.raises(KnowledgeError) as exc:
        _entry({"id": "x", "level": "public", "title": {"zh": "只有中文"}, "body": {"zh": "a", "en": "b"}})
    assert exc.value.error_id == "knowledge.missing_text"


def test_terms_are_bigrams_and_words():
    """The index unit: Chinese character bigrams, lower-cased English words."""
    assert terms("停水 Water") == {"停水", "water"}
    assert terms("停水了") == {"停水", "水了"}
