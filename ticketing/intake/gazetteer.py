"""Ningbo gazetteer: districts, subdistricts/towns, major roads and landmarks.

Finds the places a caller names, in Chinese (exactly, or by sound when the
recogniser misheard them: 海树区 → 海曙区) and in English (pinyin names such
as "Tiantong South Road", and the English names in the data), and resolves
them to a district and a structured address.  Pure: rows come in, matches
come out; reading the shipped TSV is :func:`ticketing.intake.resources`' job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from pypinyin import lazy_pinyin

from ticketing.intake.errors import DataError
from ticketing.intake.phonetic import PhoneticLexicon

KINDS = ("district", "subdistrict", "town", "road", "landmark")
DISTRICTS = ("haishu", "jiangbei", "zhenhai", "beilun", "yinzhou",
             "fenghua", "yuyao", "cixi", "ninghai", "xiangshan")
# How strongly naming a place of each kind pins down the district.
KIND_WEIGHT = {"district": 1.0, "subdistrict": 0.95, "town": 0.95, "landmark": 0.85, "road": 0.8}
FUZZY_FACTOR = 0.85

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


@dataclass(frozen=True)
class PlaceMatch:
    place: Place
    surface: str
    start: int
    end: int
    fuzzy: bool = False


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
                break
    return names


_COMMUNITY_SUFFIX = re.compile(r"(小区|花园|新村|公寓|家园|嘉园|花苑|名苑|大厦)")
_COMMUNITY_STOP = set("的在是我们你他它这那个住区道镇乡路街号家里边一村市县到从去来和跟说要就都也")
_HOUSE = re.compile(r"\d+(?:号楼|号院|号|弄|幢|栋)(?:\d+(?:号楼|号|幢|栋|单元|室|层|楼))*")
_HOUSE_STRONG = re.compile(r"\d+(?:弄|幢|栋|单元|室)")
_EN_HOUSE = re.compile(r"\b(?:no\.?\s*)?(\d{1,5})\s*,?\s*$", re.I)


class Gazetteer:
    """Place lookup over a fixed set of rows (loaded once, then read-only)."""

    def __init__(self, places: Iterable[Place]):
        self.places = list(places)
        self._surface: dict[str, tuple[Place, bool]] = {}
        english: dict[str, Place] = {}
        for place in self.places:
            for surface in (place.name, *place.aliases):
                self._surface.setdefault(surface, (place, False))
            for eng in (*place.english, *_english_names(place.kind, place.name, place.aliases)):
                english.setdefault(eng.lower(), place)
        self._surfaces = sorted(self._surface, key=lambda s: (-len(s), s))
        self._english = english
        alternation = "|".join(re.escape(e) for e in sorted(english, key=len, reverse=True))
        self._english_re = re.compile(rf"(?<![a-z])(?:{alternation})(?![a-z])", re.I) if english else None
        self.lexicon = PhoneticLexicon(self._surfaces)
        self.by_name = {p.name: p for p in self.places}

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, str]]) -> "Gazetteer":
        places = []
        for i, row in enumerate(rows, 1):
            kind = (row.get("kind") or "").strip()
            name = (row.get("name") or "").strip()
            districts = tuple(d for d in (row.get("district") or "").split("|") if d)
            if kind not in KINDS or not name or not districts or not set(districts) <= set(DISTRICTS):
                raise DataError(f"地名库第 {i} 行无效 / gazetteer row {i}: needs a known kind, a name and known districts",
                                {"row": i, "kind": kind, "name": name, "district": row.get("district")})
            split = lambda v: tuple(x.strip() for x in (v or "").split("|") if x.strip())  # noqa: E731
            places.append(Place(kind, name, districts, split(row.get("aliases")), split(row.get("en"))))
        return cls(places)

    def terms(self) -> list[str]:
        """Every Chinese surface form, for the tokenizer's dictionary."""
        return list(self._surfaces)

    def find(self, text: str) -> list[PlaceMatch]:
        """Places named in ``text`` (already repaired), non-overlapping, longest first."""
        taken = [False] * len(text)
        found: list[PlaceMatch] = []
        for surface in self._surfaces:
            start = text.find(surface)
            while start != -1:
                end = start + len(surface)
                if not any(taken[start:end]):
                    place, _ = self._surface[surface]
                    found.append(PlaceMatch(place, surface, start, end))
                    for k in range(start, end):
                        taken[k] = True
                start = text.find(surface, end)
        if self._english_re is not None:
            for m in self._english_re.finditer(text):
                if any(taken[m.start():m.end()]):
                    continue
                place = self._english[m.group(0).lower()]
                found.append(PlaceMatch(place, m.group(0), m.start(), m.end()))
                for k in range(m.start(), m.end()):
                    taken[k] = True
        found.sort(key=lambda m: m.start)
        return found

    def resolve(self, text: str, repaired_spans: Iterable[tuple[int, int]] = ()) -> Resolution:
        """District and address from the places named in ``text``."""
        spans = list(repaired_spans)
        matches = self.find(text)
        matches = [PlaceMatch(m.place, m.surface, m.start, m.end,
                              any(s < m.end and m.start < e for s, e in spans)) for m in matches]
        scores: dict[str, float] = {}
        for m in matches:
            weight = KIND_WEIGHT[m.place.kind] * (FUZZY_FACTOR if m.fuzzy else 1.0)
            share = weight / len(m.place.districts)
            for d in m.place.districts:
                scores[d] = scores.get(d, 0.0) + share
        address = Address()
        district, confidence = None, 0.0
        if scores:
            district = max(scores, key=lambda d: (scores[d], -DISTRICTS.index(d)))
            total = sum(scores.values())
            best_single = max(KIND_WEIGHT[m.place.kind] * (FUZZY_FACTOR if m.fuzzy else 1.0)
                              / len(m.place.districts) for m in matches if district in m.place.districts)
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
        community, community_end = self._community(text)
        address.community = community
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
