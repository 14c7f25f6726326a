"""Intake follows the written scope and urgency policy (ticketing/taxonomy/scope.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ticketing.intake.keywords import URGENT_PATTERNS, compile_patterns, urgent_cues

SCOPE = Path(__file__).resolve().parents[2] / "ticketing" / "taxonomy" / "scope.md"
PATTERNS = compile_patterns(URGENT_PATTERNS)


def test_scope_policy_names_every_department_and_hard_case_in_both_languages():
    """The written policy covers each taxonomy department and each hard case, in Chinese and English."""
    from ticketing.taxonomy import load_taxonomy

    text = SCOPE.read_text("utf-8")
    for code in load_taxonomy().departments:
        assert f"| {code} " in text, code
    for zh, en in (("主诉决定", "main topic decides"), ("住宅电梯困人", "residential lift"),
                   ("道路、涵洞积水", "underpass flooding"), ("违章建筑", "illegal building"),
                   ("假货", "fake goods"), ("工地欠薪", "building site"), ("表扬", "Praise"),
                   ("否定", "negated"), ("假设", "hypothetical"), ("整栋楼", "whole building")):
        assert zh in text and en in text, (zh, en)


@pytest.mark.parametrize("text", [
    "厨房里一股很浓的煤气味，我不敢开灯",
    "我们整栋楼都停水了，从早上到现在一滴水都没有",
    "整个小区没有水了，老人小孩都没法做饭",
    "我们这一整栋从昨天晚上开始没电，冰箱都停了",
    "The whole building has had no water since this morning",
    "电梯卡在十二楼和十三楼中间，里面还有个老人",
    "楼下电线掉下来了，还在冒火花",
    "There is a strong smell of gas in the stairwell",
    "水已经进到家里了，一楼全淹了",
    "我奶奶一个人住，打了一天电话都联系不上",
])
def test_present_danger_is_urgent(extractor, text):
    """A present risk to life, safety or basic living is urgent (scope.md §4), including a whole
    building without water (not only without power)."""
    p = extractor.propose(text)
    assert p.urgency == "urgent", (text, p.urgency, p.type, p.department)


@pytest.mark.parametrize("text", [
    "没有闻到煤气味，就是想问一下燃气费怎么交",
    "我们家没有停电，是隔壁单元停电，想问问什么时候恢复",
    "没有人被困，就是电梯有点异响，想让维保来看看",
    "There is no smell of gas, I just want to ask about my bill",
])
def test_negated_danger_is_not_urgent(extractor, text):
    """A danger word the caller denies (没有闻到煤气味, no smell of gas) does not make the call urgent."""
    assert extractor.propose(text).urgency == "normal", text


@pytest.mark.parametrize("text", [
    "楼道里堆了好多杂物，万一着火了怎么办，能不能让物业清一下",
    "如果燃气管道漏气了应该打哪个电话",
    "我担心以后下大雨地下车库会进水，建议物业装个挡水板",
    "What if there is a fire, the fire exit in our building is always blocked",
    "上次停电已经修好了，我就是想问一下电费怎么这么高",
])
def test_hypothetical_or_past_danger_is_not_urgent(extractor, text):
    """Feared, hypothetical or past dangers (万一着火, 如果漏气, 上次停电) are normal: dispatched, not rushed."""
    assert extractor.propose(text).urgency == "normal", text


def test_danger_is_judged_per_clause():
    """A negation in one clause does not cancel a danger told in the next."""
    assert urgent_cues("不是我家的问题，楼道里有很重的煤气味", PATTERNS)
    assert not urgent_cues("楼道里没有煤气味", PATTERNS)
    assert not urgent_cues("万一着火", PATTERNS)


def test_one_household_short_outage_is_not_urgent(extractor):
    """One household's short inconvenience is normal; the whole building is urgent."""
    assert extractor.propose("我家停水两个小时了，想问一下什么时候来水").urgency == "normal"
    assert extractor.propose("我们整栋楼停水两个小时了，想问一下什么时候来水").urgency == "urgent"
