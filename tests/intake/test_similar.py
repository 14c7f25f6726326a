"""Similar open orders suggested for merging (合并)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ticketing.intake.errors import InvalidText
from ticketing.intake.similar import similar_orders, text_similarity

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def _orders():
    return [
        {"id": "same-house", "text": "中山西路320号门口的路灯不亮了，晚上很黑", "category": None,
         "department": "urban-management", "district": "haishu",
         "address": {"road": "中山西路", "house_number": "320号"}, "created_at": NOW - timedelta(hours=3),
         "status": "dispatched"},
        {"id": "same-road", "text": "中山西路有几盏路灯坏了", "department": "urban-management",
         "district": "haishu", "address": "中山西路", "created_at": NOW - timedelta(days=2), "status": "registered"},
        {"id": "other-topic", "text": "中山西路320号楼下饭店油烟很大", "category": "cooking-fumes",
         "department": "urban-management", "district": "haishu",
         "address": {"road": "中山西路", "house_number": "320号"}, "created_at": NOW - timedelta(hours=1),
         "status": "dispatched"},
        {"id": "closed", "text": "中山西路320号门口的路灯不亮了", "department": "urban-management",
         "district": "haishu", "address": {"road": "中山西路", "house_number": "320号"},
         "created_at": NOW - timedelta(hours=2), "status": "closed"},
        {"id": "too-old", "text": "中山西路320号门口的路灯不亮了", "department": "urban-management",
         "district": "haishu", "address": {"road": "中山西路", "house_number": "320号"},
         "created_at": NOW - timedelta(days=30), "status": "dispatched"},
        {"id": "elsewhere", "text": "北仑区新碶街道停水了", "department": "water", "district": "beilun",
         "created_at": NOW - timedelta(hours=1), "status": "dispatched"},
    ]


def test_same_event_ranks_first_and_closed_or_old_orders_never_appear(extractor):
    """Same house and topic first, same road next; closed, merged, stale and unrelated orders are left out."""
    proposal = extractor.propose("海曙区中山西路三百二十号门口那个路灯坏了，晚上黑乎乎的")
    ranked = similar_orders(proposal, _orders(), NOW)
    ids = [r.order_id for r in ranked]
    assert ids[:2] == ["same-house", "same-road"]
    assert not {"closed", "too-old", "elsewhere"} & set(ids)
    assert ranked[0].reasons["address"] == 1.0
    assert ranked[0].score > ranked[1].score
    everything = similar_orders(proposal, _orders(), NOW, min_score=0.0, limit=10)
    other = next(r for r in everything if r.order_id == "other-topic")
    assert other.score < ranked[1].score  # same house, another matter (油烟 is not 路灯)


def test_text_is_proposed_when_given_raw(extractor):
    """Raw text is proposed first; the ranking is the same as for its proposal."""
    text = "海曙区中山西路三百二十号门口那个路灯坏了"
    assert [r.order_id for r in similar_orders(text, _orders(), NOW, extractor=extractor)] == \
        [r.order_id for r in similar_orders(extractor.propose(text), _orders(), NOW)]


def test_text_similarity_is_order_tolerant():
    """Bigram overlap: identical 1.0, reworded high, unrelated 0."""
    assert text_similarity("路灯坏了", "路灯坏了") == 1.0
    assert text_similarity("门口路灯坏了", "路灯坏了在门口") > 0.6
    assert text_similarity("路灯坏了", "停水三天") == 0.0


def test_naive_now_is_refused(extractor):
    """`now` must be timezone-aware, like every domain clock."""
    with pytest.raises(InvalidText):
        similar_orders(extractor.propose("路灯坏了"), [], datetime(2026, 11, 23, 10, 0))


def test_work_orders_of_the_ticketing_domain_are_candidates(extractor):
    """The work-order engine's own WorkOrder objects rank as they are; merged and resolved ones never appear."""
    from ticketing.domain.workorder import WorkOrder

    def order(number, description, status="dispatched", merged_into=None):
        wo = WorkOrder(number=number, type="help", category="water-outage", district="jiangbei",
                       summary=description[:20], created_at=NOW - timedelta(hours=2),
                       address="江北区孔浦街道", description=description, department="water")
        wo.status = status
        wo.merged_into = merged_into
        return wo

    orders = [order("2026112300001", "孔浦街道这边小区停水了，一滴水都没有"),
              order("2026112300002", "孔浦街道小区停水了，没有通知", status="merged", merged_into="2026112300001"),
              order("2026112300003", "孔浦街道停水了", status="resolved_on_call")]
    proposal = extractor.propose("喂，江北区孔浦街道我们小区停水了，从早上到现在一滴水都没有")
    ranked = similar_orders(proposal, orders, NOW)
    assert [r.order_id for r in ranked] == ["2026112300001"]
    assert ranked[0].reasons["category"] == 1.0 and ranked[0].reasons["address"] >= 0.4
