"""Field extraction: numerals, recognition errors, addresses, English, urgency, types, bad input."""
from __future__ import annotations

import pytest

from ticketing.intake import InvalidText, propose
from ticketing.intake.normalize import convert_numerals, detect_lang
from ticketing.intake.phonetic import PhoneticLexicon


def test_chinese_numerals_in_addresses_become_digits():
    """三百二十号 → 320号 and spoken digit strings (五零二室) too, but ordinary words (一下) stay."""
    assert convert_numerals("中山西路三百二十号") == "中山西路320号"
    assert convert_numerals("二十八号楼三单元五零二室") == "28号楼3单元502室"
    assert convert_numerals("一百零五弄") == "105弄"
    assert convert_numerals("等一下子") == "等一下子"
    assert convert_numerals("住在两号楼") == "住在2号楼"


def test_pinyin_repair_fixes_misheard_terms_only_when_sound_and_a_character_agree():
    """路等/露灯 sound like 路灯 and share a character with it: repaired; unrelated words are left alone."""
    lexicon = PhoneticLexicon(["路灯", "海曙区"])
    assert lexicon.repair("我们这边路等坏了")[0] == "我们这边路灯坏了"
    assert lexicon.repair("海树区")[0] == "海曙区"
    text, repairs = lexicon.repair("露灯不亮")
    assert text == "路灯不亮" and repairs[0].heard == "露灯"
    assert lexicon.repair("我想录音")[0] == "我想录音"


def test_misheard_streetlight_report_is_fully_extracted(extractor):
    """A recogniser's 路等/海树区/街到 and spoken numerals still give the right department, district and address."""
    p = extractor.propose("喂你好，我们这边路等坏掉了，就是海树区南门街到中山西路三百二十号门口，晚上黑乎乎的，麻烦你们派人来修一下")
    assert p.lang == "zh"
    assert p.department == "urban-management"
    assert p.type == "report"  # a public fault seen (scope.md §1.5)
    assert p.district == "haishu"
    assert p.address.subdistrict == "南门街道"
    assert p.address.road == "中山西路"
    assert p.address.house_number == "320号"
    assert {r.term for r in p.repairs} >= {"路灯", "海曙区", "南门街道"}
    assert "路灯" in p.summary and not p.summary.startswith("喂")
    exact = extractor.propose("海曙区南门街道的路灯坏了")
    assert p.confidence["district"] < exact.confidence["district"]


def test_address_parts_community_and_building(extractor):
    """Subdistrict, road, house number with building/unit/room, and the residential compound's name."""
    p = extractor.propose("你好，我住在鄞州区首南街道天童南路一百八十八号阳光花园小区，三幢二单元的楼道灯坏了")
    assert p.district == "yinzhou"
    assert p.address.subdistrict == "首南街道"
    assert p.address.road == "天童南路"
    assert p.address.house_number == "188号"
    assert p.address.community == "阳光花园小区" or p.address.community == "阳光花园"
    assert "天童南路188号" in p.address.text


def test_district_from_town_landmark_or_old_name(extractor):
    """Towns, landmarks and the old 江东区 name resolve to today's districts; no place gives no district."""
    assert extractor.propose("溪口镇这边的公交太少了").district == "fenghua"
    assert extractor.propose("老外滩那边有人占道经营").district == "jiangbei"
    assert extractor.propose("江东区这边停水了").district == "yinzhou"
    p = extractor.propose("请问身份证丢了怎么补办")
    assert p.district is None and p.confidence["district"] == 0.0


def test_english_gas_smell_is_an_urgent_report_for_the_gas_company(extractor):
    """English text: language detected, pinyin road name resolved, gas smell urgent, routed to gas; smelt in
    a stairwell (a public place) it is a report (scope.md §1.5)."""
    p = extractor.propose("There is a strong smell of gas in the stairwell of 12 Tiantong South Road, please come quickly")
    assert p.lang == "en"
    assert (p.department, p.type, p.urgency) == ("gas", "report", "urgent")
    assert p.category == "gas-leak"
    assert p.district == "yinzhou"
    assert p.address.road == "天童南路" and p.address.house_number == "No. 12"


def test_english_without_place_has_no_district(extractor):
    """An English question naming no place: consultation, no district, a summary in English."""
    p = extractor.propose("How do I apply for unemployment insurance benefits after losing my job?")
    assert p.lang == "en" and p.district is None
    assert p.type == "consultation"
    assert p.department == "human-resources"
    assert p.summary.startswith("How do I apply")


@pytest.mark.parametrize("text, department", [
    ("喂，我们整栋楼都停电了，电梯里还关着人", "power"),
    ("我被困在电梯里了，电梯卡在十二楼", "market-regulation"),
    ("楼道里有一股很浓的煤气味，不知道哪家漏气了", "gas"),
    ("下大雨马路上积水太深了，车子都熄火了", "urban-management"),
])
def test_danger_now_is_urgent(extractor, text, department):
    """Gas smell, people trapped, whole-building outage, flooding: urgent, to the right department."""
    p = extractor.propose(text)
    assert p.urgency == "urgent"
    assert p.department == department


def test_past_danger_in_thanks_is_not_urgent(extractor):
    """Praise that mentions a gas leak tells of the past: the order is not urgent."""
    p = extractor.propose("我想表扬燃气公司的抢修员，上次我家燃气泄漏，他们十分钟就到了")
    assert p.type == "praise" and p.urgency == "normal"


@pytest.mark.parametrize("text, kind", [
    ("我要投诉那个出租车司机拒载，态度还很差", "complaint"),
    ("我要举报有人在河里电鱼", "report"),
    ("我建议在学校门口多设几个红绿灯", "suggestion"),
    ("我要表扬派出所的民警，帮我找回了钱包，谢谢他们", "praise"),
    ("请问一下社保卡丢了怎么补办", "consultation"),
    ("我家停水了，一滴水都没有，麻烦赶紧派人来看看", "help"),
])
def test_request_types(extractor, text, kind):
    """Each of the six request types is recognised from how the caller puts it."""
    assert extractor.propose(text).type == kind


def test_dispatch_catalogue_reroutes_by_district(extractor):
    """Industrial noise goes to environment, but in Zhenhai to emergency management (dispatch.yaml)."""
    haishu = extractor.propose("海曙区古林镇有个工厂的冷却塔噪音特别响，晚上吵得睡不着")
    zhenhai = extractor.propose("镇海区澥浦镇有个工厂的冷却塔噪音特别响，晚上吵得睡不着")
    assert haishu.category == zhenhai.category == "industrial-noise"
    assert haishu.department == "environment"
    assert zhenhai.department == "emergency-management"


def test_every_field_has_a_confidence(extractor):
    """Confidences exist for every proposed field and lie in [0, 1]; as_dict is JSON-ready."""
    import json

    p = extractor.propose("我要投诉鄞州区中河街道的物业，电梯坏了一个月都不修")
    for key in ("lang", "type", "category", "department", "district", "address", "urgency", "summary"):
        assert 0.0 <= p.confidence[key] <= 1.0
    data = json.loads(json.dumps(p.as_dict(), ensure_ascii=False))
    assert data["department"] == "housing" and data["address"]["subdistrict"] == "中河街道"


def test_propose_module_function_uses_shipped_data():
    """`ticketing.intake.propose` works without any setup."""
    assert propose("我想问一下结婚登记要带什么材料").department == "civil-affairs"


@pytest.mark.parametrize("bad, detail", [("", "empty"), ("   \n ", "empty"), (None, "string"),
                                         ("路" * 5000, "longer"), (123, "string")])
def test_bad_text_is_a_clear_error(extractor, bad, detail):
    """Empty, non-text or huge input raises InvalidText with a stable error_id."""
    with pytest.raises(InvalidText) as info:
        extractor.propose(bad)
    assert info.value.error_id == "intake.invalid_text"
    assert detail in info.value.message


def test_unsupported_language_is_refused(extractor):
    """Only zh and en may be forced."""
    with pytest.raises(InvalidText, match="unsupported language"):
        extractor.propose("路灯坏了", lang="fr")


def test_language_detection():
    """Han text is zh, Latin text is en, mixed text follows the majority."""
    assert detect_lang("路灯坏了")[0] == "zh"
    assert detect_lang("the street light is broken")[0] == "en"
    assert detect_lang("我在Tianyi Square附近，路灯坏了好几天了")[0] == "zh"


def test_gazetteer_knows_every_taxonomy_subdistrict(extractor):
    """Every subdistrict/town of the work-order taxonomy is in the gazetteer, in the same district."""
    from ticketing.taxonomy import load_taxonomy

    places = {p.name: p for p in extractor.gazetteer.places}
    aliases = {a: p for p in extractor.gazetteer.places for a in p.aliases}
    for district in load_taxonomy().districts.values():
        for sub in district.subdistricts.values():
            place = places.get(sub.zh) or aliases.get(sub.zh)
            assert place is not None, sub.zh
            assert district.code in place.districts, sub.zh


def test_ordinary_words_are_never_repaired_into_domain_terms(extractor):
    """老是 sounds like 老师 and 风化 like 奉化, but they are real words: left as heard."""
    assert extractor.prepare("公交车老是晚点")[0] == "公交车老是晚点"
    text, _lang, _conf, repairs = extractor.prepare("这栋楼的外墙风化得很厉害")
    assert "风化" in text and not repairs


def test_proposal_creates_a_work_order_through_the_ticketing_service(extractor, db_url):
    """The draft's fields are accepted as they are by WorkOrderService.create (taxonomy codes, subdistrict code)."""
    from datetime import datetime, timezone

    from callcenter.config import load_config
    from callcenter.db import make_engine
    from ticketing.service import Actor, WorkOrderService

    p = extractor.propose("喂，我们整栋楼都停电了，鄞州区首南街道天童南路588号，电梯里还关着人，赶紧派人来")
    fields = p.work_order_fields()
    assert fields["category"] == "power-outage" and fields["subdistrict"] and fields["urgency"] == "urgent"
    engine = make_engine(db_url)
    try:
        service = WorkOrderService.from_config(load_config(None, environ={}), engine)
        order = service.create(fields, Actor("agent-7", "agent"), datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc))
    finally:
        engine.dispose()
    assert order["department"] == "power" and order["district"] == "yinzhou"
    assert order["urgency"] == "urgent"


def test_summary_masks_phone_numbers(extractor):
    """A mobile number said on the call appears masked in the summary (138****1234)."""
    p = extractor.propose("我要投诉楼下饭店油烟太大，有事打我电话13812341234，鄞州区百丈街道的")
    assert "138****1234" in p.summary and "13812341234" not in p.summary
