"""Text clean-up before extraction: width folding, language detection and
spoken Chinese numerals in addresses (三百二十号 → 320号).

Numerals are converted only where an address unit follows, because a blanket
conversion turns ordinary words into nonsense (一下 → 1下).
"""
from __future__ import annotations

import re
import unicodedata

import cn2an

MAX_TEXT_CHARS = 4000

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_NUMERAL = "零〇一二两三四五六七八九十百千万幺"
_UNITS = "号楼|号院|号|弄|幢|栋|单元|室|层|楼"
_ADDRESS_NUMERAL = re.compile(rf"([{_NUMERAL}]+)(?=({_UNITS}))")
# A numeral directly after a road/street/lane name, even before the unit was heard.
_DIGIT_RUN = re.compile(r"[零〇一二三四五六七八九幺]{2,}")
_DIGITS = {"零": "0", "〇": "0", "幺": "1", "一": "1", "二": "2", "三": "3", "四": "4",
           "五": "5", "六": "6", "七": "7", "八": "8", "九": "9", "两": "2"}
_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """NFKC (full-width → half-width), collapsed whitespace, control characters removed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return _SPACE.sub(" ", text).strip()


def detect_lang(text: str) -> tuple[str, float]:
    """``("zh"|"en", confidence)`` from the share of Han characters among letters."""
    han = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    # A Han character carries about as much as a short English word.
    zh_weight, en_weight = han * 4.0, float(latin)
    total = zh_weight + en_weight
    if total == 0:
        return "zh", 0.5
    if zh_weight >= en_weight:
        return "zh", round(zh_weight / total, 3)
    return "en", round(en_weight / total, 3)


def _numeral_to_int(numeral: str) -> str | None:
    if all(ch in _DIGITS for ch in numeral) and len(numeral) > 1 and "两" not in numeral:
        # Read digit by digit (三二零 → 320), the way numbers are often spoken.
        return "".join(_DIGITS[ch] for ch in numeral)
    try:
        return str(int(cn2an.cn2an(numeral.replace("幺", "一"), "smart")))
    except (ValueError, KeyError, TypeError):
        return None


def convert_numerals(text: str) -> str:
    """Chinese numerals before an address unit become digits: 三百二十号 → 320号."""
    def repl(match: re.Match) -> str:
        value = _numeral_to_int(match.group(1))
        return value if value is not None else match.group(1)
    return _ADDRESS_NUMERAL.sub(repl, text)


def prepare(text: str) -> str:
    """The normalised text every extractor works on."""
    return convert_numerals(clean(text))
