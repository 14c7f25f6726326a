"""One behaviour suite for every search engine (embedded FTS5 and Elasticsearch)."""
from __future__ import annotations

import pytest

from callcenter.search.documents import Document, SearchError

DOCS = [
    Document("workorder", "20261123000001", "20261123000001 小区停水三天无人处理",
             "water-supply haishu 海曙区望春街道 自来水管爆裂，整个小区停水", {"district": "haishu"}),
    Document("workorder", "20261123000002", "20261123000002 夜间施工噪音扰民",
             "noise yinzhou 鄞州区 工地晚上十一点还在打桩", {"district": "yinzhou"}),
    Document("transcript", "7", "call-7 zh", "你好我家小区停水了什么时候恢复供水", {}),
    Document("knowledge", "kb-water", "停水报修流程 Water outage procedure",
             "自来水公司抢修电话 water company repair line", {"level": "internal"}),
]


def test_finds_chinese_words_across_kinds_and_filters_by_kind(index):
    """A Chinese word matches work orders, transcripts and knowledge; ``kind`` restricts the hits."""
    index.upsert(DOCS)
    refs = {(h.kind, h.ref) for h in index.search("停水")}
    assert refs == {("workorder", "20261123000001"), ("transcript", "7"), ("knowledge", "kb-water")}
    assert [h.ref for h in index.search("停水", kind="transcript")] == ["7"]


def test_all_words_must_match_and_title_ranks_first(index):
    """Several words are ANDed; a title match outranks a body-only match."""
    index.upsert(DOCS)
    assert [h.ref for h in index.search("噪音 鄞州区")] == ["20261123000002"]
    assert index.search("噪音 停水") == []
    hits = index.search("停水", limit=3)
    assert hits[0].kind in ("workorder", "knowledge")  # both have 停水 in the title
    assert hits[-1].kind == "transcript"


def test_english_and_order_number_are_searchable(index):
    """English words (case-insensitive) and the work-order number find their document."""
    index.upsert(DOCS)
    assert [h.ref for h in index.search("Water Outage")] == ["kb-water"]
    assert [h.ref for h in index.search("20261123000002")] == ["20261123000002"]


def test_update_replaces_and_delete_removes(index):
    """Re-indexing a document replaces its text; deleting removes it."""
    index.upsert(DOCS)
    index.upsert([Document("workorder", "20261123000002", "20261123000002 路灯损坏", "lighting", {})])
    assert index.search("噪音") == []
    assert [h.ref for h in index.search("路灯")] == ["20261123000002"]
    index.delete("workorder", "20261123000002")
    assert index.search("路灯") == []
    assert index.count() == 3


def test_hits_carry_title_snippet_and_extra(index):
    """A hit has the stored title, a snippet around the word and the display fields."""
    index.upsert(DOCS[:1])
    (hit,) = index.search("爆裂")
    assert hit.title == DOCS[0].title
    assert "爆裂" in hit.snippet
    assert hit.extra == {"district": "haishu"}


@pytest.mark.parametrize("query,kind,limit,error_id", [
    ("", None, 10, "search.empty_query"),
    ("，。！", None, 10, "search.empty_query"),
    ("停水", "people", 10, "search.bad_kind"),
    ("停水", None, 0, "search.bad_limit"),
    ("停" * 201, None, 10, "search.bad_query"),
    ('"停水"* ^(', None, 10, None),
])
def test_bad_queries_get_a_clear_error_and_syntax_is_inert(index, query, kind, limit, error_id):
    """Bad queries raise a stable error; engine query syntax in the text is just text."""
    index.upsert(DOCS)
    if error_id is None:
        assert {h.ref for h in index.search(query, kind, limit)} == {"20261123000001", "kb-water", "7"}
        return
    with pytest.raises(SearchError) as caught:
        index.search(query, kind, limit)
    assert caught.value.error_id == error_id
