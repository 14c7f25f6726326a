"""Ningbo gazetteer: districts, subdistricts/towns, roads, landmarks, communities, villages.

Finds the places a caller names, in Chinese (exactly, or by sound when the
recogniser misheard them: 海树区 → 海曙区; bare town names said without
街道/镇/乡: 集士港, 横街这边) and in English (pinyin names such as "Tiantong
South Road", the English names in the data, and misspellings or split
syllables of them: "Yin Zhou", "Tianyi Sqaure"), and resolves them to a
district and a structured address.  Districts, subdistricts and towns come
from the taxonomy (``ticketing/taxonomy/districts.yaml``, the one place list,
see :func:`places_from_taxonomy`); the finer places from rows (the shipped
``gazetteer.tsv``).  Pure: data comes in, matches come out; reading files is
:func:`ticketing.intake.resources`' job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from pypinyin import lazy_pinyin

from ticketing.intake.errors import DataError
from ticketing.intake.phonetic import syllables

KINDS = ("district", "subdistrict", "town", "road", "landmark", "community", "village")
ADMIN_KINDS = ("district", "subdistrict", "town")   # from the taxonomy, never from gazetteer rows
DISTRICTS = ("haishu", "jiangbei", "zhenhai", "beilun", "yinzhou",
             "fenghua", "yuyao", "cixi", "ninghai", "xiangshan")
# How strongly naming a place of each kind pins down the district.
KIND_WEIGHT = {"district": 1.0, "subdistrict": 0.95, "town": 0.95, "landmark": 0.85, "road": 0.8,
               "community": 0.9, "village": 0.9}
FUZZY_FACTOR = 0.85
BARE_FACTOR = 0.85   # a two-character bare name (横街, 古林) said without 街道/镇: weaker evidence
# A two-character bare name is taken as a place only next to words that say "a place here":
# 横街这边, 在古林, 住在南门那块, 白云的 ... (南门 alone may be a school's south gate).
# A town's own institutions and places say "the town" as well: 古林菜场, 柴桥中学, 梅墟工业区.
_BARE_PLACE_NOUNS = (r"菜场|菜市场|农贸市场|市场|中学|小学|中心小学|幼儿园|卫生院|医院|派出所|政府|工业区|开发区|工业园|园区|"
                     r"水库|老街|大桥|汽车站|岛|车站|地铁站|码头|渔港|公园|广场|中心|街道|集镇|路口|大道|方向|派出")
_BARE_AFTER = re.compile(r"(这边|那边|那里|这里|那儿|这儿|那块|这块|附近|一带|片区|地区|街上|镇上|乡下|村|社区|小区|的|这|那|人|"
                         + _BARE_PLACE_NOUNS + ")")
_BARE_BEFORE = re.compile(r"(在|住|是|到|去|来自|我们|咱们|我家|家住|位于)$")
# A bare name that is also an ordinary word (南门, 江口, 新桥, 桥头) needs more: 南门这边, 新桥那块.
_BARE_AFTER_STRONG = re.compile(r"(这边|那边|那里|这里|那儿|这儿|那块|这块|一带|片区|地区|街上|镇上|乡下|"
                                r"菜场|菜市场|农贸市场|中学|小学|卫生院|派出所|工业区|开发区|集镇)")
_BARE_BEFORE_STRONG = re.compile(r"(住在|家住|来自|位于|我们|咱们|阿拉|住|[我们拉]是|[我们拉]在)$")
_BARE_AFTER_STRONG_WORD = re.compile(r"(那个|这个)")
# A caller who opens with the place says it first and pauses (喂 古林 我们这边停电了, 夏应，车库进水了): a
# bare name that opens the call, after at most a greeting, and is followed by a pause is said as a place.
_OPENING = re.compile(r"^(?:(?:喂|你好|您好|哎|诶|嗯|那个|hello|hi)[ ，,、。!！]*)*$", re.I)
_PAUSE_AFTER = re.compile(r"[ ，,、。：:]")
COMMON_FACTOR = 0.7  # a bare name that is also an ordinary word (骆驼, 长河): any other place named outweighs it

_ROAD_SUFFIXES = (("步行街", "pedestrian street"), ("大道", "avenue"), ("大街", "street"),
                  ("路", "road"), ("街", "street"))
_DIRECTIONS = {"东": "east", "西": "west", "南": "south", "北": "north", "中": "middle"}
_ADMIN_SUFFIXES = ("街道", "区", "市", "县", "镇", "乡")


@dataclass(frozen=True)
class Place:
    kind: str
    name: str
    districts: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    english: tuple[str, ...] = ()
    subdistrict: str | None = None   # the taxonomy code of the 街道/镇 it is in (or is)
    bare: tuple[str, ...] = ()       # two-character bare names, taken only with place context


@dataclass(frozen=True)
class PlaceMatch:
    place: Place
    surface: str
    start: int
    end: int
    fuzzy: bool = False
    bare: bool = False
    common: bool = False   # a bare name that is also an ordinary word


def _bare_name(name: str) -> str:
    for suffix in ("街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def places_from_taxonomy(taxonomy) -> list[Place]:
    """The taxonomy's districts, subdistricts and towns as places, with their aliases: the
    bare names (海曙, 集士港), old names and English names of ``districts.yaml``."""
    out = []
    for d in taxonomy.districts.values():
        han = tuple(a for a in d.aliases if not a.isascii())
        eng = (d.en, *(a for a in d.aliases if a.isascii()))
        out.append(Place("district", d.zh, (d.code,), han, eng))
        for s in d.subdistricts.values():
            han = tuple(a for a in s.aliases if not a.isascii())
            eng = (s.en, *(a for a in s.aliases if a.isascii()))
            bare = _bare_name(s.zh)
            weak = (bare,) if len(bare) == 2 and bare in han else ()
            out.append(Place(s.kind, s.zh, (d.code,), han, eng, s.code, weak))
    return out


@dataclass
class Address:
    """Where the request is about; every part optional."""

    district: str | None = None
    subdistrict: str | None = None
    road: str | None = None
    house_number: str | None = None
    landmark: str | None = None
    community: str | None = None

    @property
    def text(self) -> str:
        road = self.road
        if road and self.house_number:
            sep = " " if self.house_number.startswith("No.") else ""
            road = f"{road}{sep}{self.house_number}"
        elif self.house_number:
            road = self.house_number
        parts = [self.subdistrict, road, self.landmark, self.community]
        return " ".join(p for p in parts if p)

    def as_dict(self) -> dict:
        return {"district": self.district, "subdistrict": self.subdistrict, "road": self.road,
                "house_number": self.house_number, "landmark": self.landmark,
                "community": self.community, "text": self.text}


@dataclass
class Resolution:
    """The district chosen, its confidence, the address, and the evidence."""

    district: str | None
    confidence: float
    address: Address
    matches: list[PlaceMatch] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


def _weight(m: PlaceMatch) -> float:
    return (KIND_WEIGHT[m.place.kind] * (FUZZY_FACTOR if m.fuzzy else 1.0) * (BARE_FACTOR if m.bare else 1.0)
            * (COMMON_FACTOR if m.common else 1.0))


def _within(a: str, b: str, budget: int) -> bool:
    """Damerau-Levenshtein distance of ``a`` and ``b`` is at most ``budget`` (small strings)."""
    if abs(len(a) - len(b)) > budget:
        return False
    prev2 = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > budget:
            return False
        prev2, prev = prev, cur
    return prev[-1] <= budget


_EN_SOUND_RULES = (("tsh", "ch"), ("ts", "c"), ("tz", "c"), ("dz", "z"), ("hs", "sh"), ("zh", "j"), ("x", "sh"),
                   ("q", "ch"), ("ph", "f"), ("wh", "w"), ("ee", "i"), ("ea", "i"), ("ay", "ei"), ("ey", "ei"),
                   ("oe", "u"), ("oo", "u"), ("ow", "ou"), ("ue", "u"), ("igh", "ai"))


def english_sound(key: str) -> str:
    """A squashed English spelling reduced to roughly how it sounds in pinyin terms, so that a
    name written as heard meets its pinyin: "tsishee" and "cixi" → "cishi", "baylun" and "beilun"
    → "beilun", "hishoe" ~ "haishu"."""
    for a, b in _EN_SOUND_RULES:
        key = key.replace(a, b)
    return key


def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text)).lower()


def _english_names(kind: str, name: str, aliases: tuple[str, ...]) -> list[str]:
    """Generated pinyin names: 天童南路 → "tiantong south road", 海曙区 → "haishu"."""
    names: list[str] = []
    if kind in ("district", "subdistrict", "town"):
        for n in (name, *aliases):
            base = n
            for suffix in _ADMIN_SUFFIXES:
                if base.endswith(suffix) and len(base) > len(suffix) + 1:
                    base = base[: -len(suffix)]
                    break
            if len(base) >= 2:
                py = _pinyin(base)
                names.append(py)
                if kind == "subdistrict":
                    names.append(py + " subdistrict")
                elif kind == "town":
                    names.append(py + " town")
                else:
                    names.append(py + " district")
    elif kind == "road":
        for suffix, english in _ROAD_SUFFIXES:
            if name.endswith(suffix):
                base = name[: -len(suffix)]
                direction = ""
                if len(base) >= 3 and base[-1] in _DIRECTIONS:
                    direction = " " + _DIRECTIONS[base[-1]]
                    base = base[:-1]
                names.append(f"{_pinyin(base)}{direction} {english}")
                if english != "road":  # callers call any street a road: 三北大街 "Sanbei Road", "Sanbeidajie"
                    names.append(f"{_pinyin(base)}{direction} road")
                    names.append(_pinyin(name))
                if direction:  # said in pinyin too: "Rili Zhong Road", "Tiantongnan Road"
                    names.append(f"{_pinyin(base)} {_pinyin(name[len(base):-len(suffix)])} {english}")
                    names.append(f"{_pinyin(name[:-len(suffix)])} {english}")
                break
    return names


_COMMUNITY_SUFFIX = re.compile(r"(小区|花园|新村|公寓|家园|嘉园|花苑|名苑|大厦)")
_COMMUNITY_STOP = set("的在是我们你他它这那个住区道镇乡路街号家里边一村市县到从去来和跟说要就都也")
_HOUSE = re.compile(r"\d+(?:号楼|号院|号|弄|幢|栋)(?:\d+(?:号楼|号|幢|栋|单元|室|层|楼))*")
_HOUSE_STRONG = re.compile(r"\d+(?:弄|幢|栋|单元|室)")
_EN_HOUSE = re.compile(r"\b(?:no\.?\s*)?(\d{1,5})\s*,?\s*$", re.I)


class Gazetteer:
    """Place lookup over a fixed set of rows (loaded once, then read-only)."""

    def __init__(self, places: Iterable[Place], common_words: Iterable[str] = (), free_words: Iterable[str] = ()):
        """``common_words``: bare names that are also ordinary words, taken only with strong place context;
        ``free_words``: bare names that are no word of the language at all (古林, 马渚, 陆埠), taken
        wherever they are said (泗门停电了): nothing else sounds or reads like them."""
        self.places = list(places)
        self._common = frozenset(common_words)
        self._free = frozenset(free_words) - self._common
        self._surface: dict[str, tuple[Place, bool]] = {}
        english: dict[str, Place] = {}
        for place in self.places:
            for surface in (place.name, *place.aliases):
                known = self._surface.get(surface)
                if known is None:
                    self._surface[surface] = (place, surface in place.bare)
                elif known[1] and surface not in place.bare and set(place.districts) == set(known[0].districts):
                    # a landmark named like its own town's bare name (鼓楼, 月湖) needs no place context
                    self._surface[surface] = (known[0], False)
                elif known[0].kind in ("community", "village") and place.kind == known[0].kind \
                        and not set(place.districts) <= set(known[0].districts):
                    # one name, villages in several districts: the name says less about where
                    merged = Place(known[0].kind, known[0].name, known[0].districts + place.districts)
                    self._surface[surface] = (merged, False)
            for eng in (*place.english, *_english_names(place.kind, place.name, place.aliases)):
                english.setdefault(eng.lower(), place)
        self._surfaces = sorted(self._surface, key=lambda s: (-len(s), s))
        self._bare_sounds: dict[tuple, list[str]] = {}   # several names may sound alike (瞻岐, 掌起)
        for surface, (place, bare) in sorted(self._surface.items()):
            if bare and len(surface) == 2:
                self._bare_sounds.setdefault(syllables(surface), []).append(surface)
        self._english = english
        alternation = "|".join(re.escape(e) for e in sorted(english, key=len, reverse=True))
        self._english_re = re.compile(rf"(?<![a-z])(?:{alternation})(?![a-z])", re.I) if english else None
        # English repair: names without spaces and case ("yinzhou", "tianyisquare") for
        # split syllables and one- or two-letter misspellings of what a caller said.
        self._english_squashed: dict[str, Place] = {}
        for eng, place in english.items():
            key = re.sub(r"[^a-z0-9]", "", eng)
            if len(key) >= 5:
                self._english_squashed.setdefault(key, place)
        self._english_by_len: dict[int, list[str]] = {}
        for key in self._english_squashed:
            self._english_by_len.setdefault(len(key), []).append(key)
        self._english_sound: dict[str, Place] = {}
        for eng, place in english.items():  # four letters are enough here ("cixi"): only said as a place
            key = re.sub(r"[^a-z0-9]", "", eng)
            if len(key) >= 4:
                self._english_sound.setdefault(english_sound(key), place)
        self._english_sound_by_len: dict[int, list[str]] = {}
        for key in self._english_sound:
            self._english_sound_by_len.setdefault(len(key), []).append(key)
        self.by_name = {p.name: p for p in self.places}
        self._subdistrict_names = {(p.districts[0], p.subdistrict): p.name for p in self.places
                                   if p.kind in ("subdistrict", "town") and p.subdistrict}

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, str]], admin: Iterable[Place] = (),
                  common_words: Iterable[str] = (), free_words: Iterable[str] = ()) -> "Gazetteer":
        """``admin``: the districts and towns (:func:`places_from_taxonomy`); ``rows``: roads,
        landmarks, communities and villages (a row of an administrative kind is refused: the
        taxonomy is the one list of those)."""
        places = list(admin)
        for i, row in enumerate(rows, 1):
            kind = (row.get("kind") or "").strip()
            name = (row.get("name") or "").strip()
            districts = tuple(d for d in (row.get("district") or "").split("|") if d)
            if kind not in KINDS or kind in ADMIN_KINDS or not name or not districts \
                    or not set(districts) <= set(DISTRICTS):
                raise DataError(f"地名库第 {i} 行无效 / gazetteer row {i}: needs a kind (road, landmark, community, "
                                "village; districts and towns are in the taxonomy), a name and known districts",
                                {"row": i, "kind": kind, "name": name, "district": row.get("district")})
            split = lambda v: tuple(x.strip() for x in (v or "").split("|") if x.strip())  # noqa: E731
            places.append(Place(kind, name, districts, split(row.get("aliases")), split(row.get("en")),
                                (row.get("subdistrict") or "").strip() or None))
        return cls(places, common_words, free_words)

    def kind_of(self, surface: str) -> str | None:
        """The kind of place a Chinese surface form names (None: not a place)."""
        hit = self._surface.get(surface)
        return hit[0].kind if hit else None

    def terms(self, kinds: Iterable[str] = KINDS) -> list[str]:
        """Chinese surface forms of places of ``kinds``, for the tokenizer's dictionary and sound repair."""
        kinds = set(kinds)
        return [s for s in self._surfaces if self._surface[s][0].kind in kinds]

    def find(self, text: str) -> list[PlaceMatch]:
        """Places named in ``text`` (already repaired), non-overlapping, longest first."""
        taken = [False] * len(text)
        found: list[PlaceMatch] = []
        for surface in self._surfaces:
            start = text.find(surface)
            while start != -1:
                end = start + len(surface)
                place, bare = self._surface[surface]
                if not any(taken[start:end]) and (not bare or self._bare_in_context(text, start, end)):
                    found.append(PlaceMatch(place, surface, start, end, bare=bare,
                                            common=bare and surface in self._common))
                    for k in range(start, end):
                        taken[k] = True
                start = text.find(surface, start + 1)
        found += self._bare_by_sound(text, taken)
        if self._english_re is not None:
            for m in self._english_re.finditer(text):
                if any(taken[m.start():m.end()]):
                    continue
                place = self._english[m.group(0).lower()]
                found.append(PlaceMatch(place, m.group(0), m.start(), m.end()))
                for k in range(m.start(), m.end()):
                    taken[k] = True
        if self._english_squashed and re.search(r"[a-z]{3}", text, re.I):
            found += self._english_fuzzy(text, taken)
        found.sort(key=lambda m: m.start)
        return found

    def _bare_in_context(self, text: str, start: int, end: int, *, strong: bool = False) -> bool:
        before = text[max(0, start - 4):start]
        if text[start:end] in self._free and not strong:
            return True
        if _PAUSE_AFTER.match(text, end) and _OPENING.match(text[:start]):
            return True   # the call opens with the place: 夏应 我们小区…
        if strong or text[start:end] in self._common:
            return bool(_BARE_AFTER_STRONG.match(text, end) or _BARE_AFTER_STRONG_WORD.match(text, end)
                        or _BARE_BEFORE_STRONG.search(before))
        return bool(_BARE_AFTER.match(text, end) or _BARE_BEFORE.search(before))

    def _bare_by_sound(self, text: str, taken: list[bool]) -> list[PlaceMatch]:
        """Two-character bare names the recogniser wrote with other characters of the same sound
        (石器这边 for 石碶, 古琳那边 for 古林): sharing a character with the name and said with strong
        place context, since many ordinary words sound like a short name."""
        out = []
        if not self._bare_sounds:
            return out
        i = 0
        while i < len(text) - 1:
            window = text[i:i + 2]
            surface = None
            if not taken[i] and not taken[i + 1] and window not in self._surface:
                key = syllables(window)
                if None not in key:
                    surface = next((c for c in self._bare_sounds.get(key, ())
                                    if any(a == b for a, b in zip(window, c))), None)
            if surface and self._bare_in_context(text, i, i + 2, strong=True):
                place = self._surface[surface][0]
                out.append(PlaceMatch(place, window, i, i + 2, fuzzy=True, bare=True))
                taken[i] = taken[i + 1] = True
                i += 2
                continue
            i += 1
        return out

    _EN_WORD = re.compile(r"[A-Za-z]+")
    _EN_COMMON = frozenset("the and near road street our my in on at of from with there this that have has was "
                           "is are for not but been please some someone".split())
    # Where an English caller names a place: "in X", "near X", "X district", "X town".
    _EN_BEFORE = re.compile(r"\b(in|at|on|near|from|to|around|by|of|outside|behind|opposite|live|living|stay|staying|"
                            r"moved|called|named)\s+(the\s+)?$", re.I)
    _EN_AFTER = re.compile(r"\s*(district|town|township|subdistrict|road|street|avenue|area|village|county|city|"
                           r"side|lake|square|station|park|market|bridge|port|island|mountain)\b", re.I)

    def _english_fuzzy(self, text: str, taken: list[bool]) -> list[PlaceMatch]:
        """English place names heard with split syllables ("Yin Zhou", "Tian Yi Square"), misspelt by
        one letter in five ("Tianyi Sqaure", "Haishoo") or written as they sounded ("Bay Lun", "Tsi Shee",
        "Hi Shoe district"): windows of 1-3 words, squashed, matched against the squashed names
        exactly, then by edit distance on the spelling and on an English-spelling sound key
        (:func:`english_sound`).  A name found only approximately must be said as a place (in X,
        near X, X district): "change the labels" is not 长河 (Changhe)."""
        words = [m for m in self._EN_WORD.finditer(text)]
        out = []
        i = 0
        while i < len(words):
            hit = None
            for n in (3, 2, 1):
                if i + n > len(words):
                    continue
                span = words[i:i + n]
                if any(taken[w.start():w.end()].count(True) for w in span):
                    continue
                if n == 1 and span[0].group(0).lower() in self._EN_COMMON:
                    continue
                if any(not text[a.end():b.start()].isspace() for a, b in zip(span, span[1:])):
                    continue  # "Hi, Shoe": punctuation between, not one name
                key = "".join(w.group(0).lower() for w in span)
                if len(key) < 5:
                    continue
                place = self._english_squashed.get(key)
                if place is None and self._english_context(text, span[0].start(), span[-1].end()):
                    place = self._english_near(key)
                if place is not None:
                    hit = (place, span)
                    break
            if hit is None:
                i += 1
                continue
            place, span = hit
            start, end = span[0].start(), span[-1].end()
            out.append(PlaceMatch(place, text[start:end], start, end, fuzzy=True))
            for k in range(start, end):
                taken[k] = True
            i += len(span)
        return out

    def _english_context(self, text: str, start: int, end: int) -> bool:
        last = self._EN_WORD.findall(text[start:end])[-1]
        return bool(self._EN_BEFORE.search(text, max(0, start - 24), start) or self._EN_AFTER.match(text, end)
                    or (start < end - len(last) and self._EN_AFTER.fullmatch(last)))

    def _english_near(self, key: str) -> "Place | None":
        budget = 1 if len(key) < 10 else 2
        for length in range(len(key) - budget, len(key) + budget + 1):
            for cand in self._english_by_len.get(length, ()):
                if cand[0] == key[0] and _within(key, cand, budget):
                    return self._english_squashed[cand]
        sound = english_sound(key)
        place = self._english_sound.get(sound)
        if place is not None:
            return place
        budget = 1 if len(sound) < 10 else 2
        for length in range(len(sound) - budget, len(sound) + budget + 1):
            for cand in self._english_sound_by_len.get(length, ()):
                if cand[0] == sound[0] and _within(sound, cand, budget):
                    return self._english_sound[cand]
        return None

    def resolve(self, text: str, repaired_spans: Iterable[tuple[int, int]] = ()) -> Resolution:
        """District and address from the places named in ``text``."""
        spans = list(repaired_spans)
        matches = self.find(text)
        matches = [PlaceMatch(m.place, m.surface, m.start, m.end,
                              m.fuzzy or any(s < m.end and m.start < e for s, e in spans), m.bare, m.common)
                   for m in matches]
        scores: dict[str, float] = {}
        for m in matches:
            weight = _weight(m)
            share = weight / len(m.place.districts)
            for d in m.place.districts:
                scores[d] = scores.get(d, 0.0) + share
        address = Address()
        district, confidence = None, 0.0
        if scores:
            district = max(scores, key=lambda d: (scores[d], -DISTRICTS.index(d)))
            total = sum(scores.values())
            best_single = max(_weight(m) / len(m.place.districts) for m in matches if district in m.place.districts)
            confidence = round(min(0.99, best_single * (scores[district] / total)), 3)
        address.district = district
        for m in matches:
            if district is not None and district not in m.place.districts:
                continue
            if m.place.kind in ("subdistrict", "town") and not address.subdistrict:
                address.subdistrict = m.place.name
            elif m.place.kind == "road" and not address.road:
                address.road = m.place.name
                address.house_number = self._house_after(text, m.start, m.end)
            elif m.place.kind == "landmark" and not address.landmark:
                address.landmark = m.place.name
            elif m.place.kind in ("community", "village") and not address.community:
                address.community = m.place.name
        if address.subdistrict is None and district is not None:
            for m in matches:  # a village or community says which town it is in
                name = self._subdistrict_names.get((district, m.place.subdistrict))
                if name:
                    address.subdistrict = name
                    break
        community, community_end = self._community(text)
        address.community = address.community or community
        if address.house_number is None:
            address.house_number = self._house_anywhere(text, community_end)
        if address.road is None:
            address.road = self._unknown_road(text)
            if address.road and address.house_number is None:
                idx = text.find(address.road)
                address.house_number = self._house_after(text, idx, idx + len(address.road))
        return Resolution(district, confidence, address, matches, scores)

    @staticmethod
    def _house_after(text: str, start: int, end: int) -> str | None:
        """The house number right after a road (天童南路320号) or, in English, before it."""
        m = _HOUSE.match(text, end)
        if m:
            return m.group(0)
        hit = _EN_HOUSE.search(text, max(0, start - 12), start)
        return f"No. {hit.group(1)}" if hit else None

    @staticmethod
    def _house_anywhere(text: str, after: int | None) -> str | None:
        if after is not None:
            m = _HOUSE.match(text, after)
            if m:
                return m.group(0)
        m = _HOUSE_STRONG.search(text)
        if m:
            start = m.start()
            while start > 0 and (text[start - 1].isdigit() or text[start - 1] in "号楼幢栋单元弄室"):
                start -= 1
            full = _HOUSE.match(text, start)
            return full.group(0) if full else m.group(0)
        return None

    @staticmethod
    def _community(text: str) -> tuple[str | None, int | None]:
        for m in _COMMUNITY_SUFFIX.finditer(text):
            i = m.start()
            j = i
            while j > 0 and i - j < 6 and "\u4e00" <= text[j - 1] <= "\u9fff" and text[j - 1] not in _COMMUNITY_STOP:
                j -= 1
            if i - j >= 2:
                return text[j:m.end()], m.end()
        return None, None

    @staticmethod
    def _unknown_road(text: str) -> str | None:
        """A road the gazetteer does not know, by its shape (X路 with a house number)."""
        m = re.search(r"([\u4e00-\u9fff]{2,4}(?:路|街|巷|大道))(?=\d+(?:号|弄))", text)
        if m:
            name = m.group(1)
            for k in range(len(name) - 2, -1, -1):
                if name[k] in _COMMUNITY_STOP:
                    name = name[k + 1:]
                    break
            if len(name) >= 3:
                return name
        return None
