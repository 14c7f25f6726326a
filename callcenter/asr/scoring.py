"""Scoring recognised text against references: CER for Mandarin, WER for English.

The normalisation (the same for reference and hypothesis, written down so
figures can be reproduced):

Mandarin (CER, over characters)
  1. traditional → simplified (OpenCC ``t2s``), NFKC (full-width → half-width);
  2. Arabic digits read digit by digit as Chinese numerals (``12`` → ``一二``);
  3. everything but letters and digits dropped (punctuation, spaces);
  4. Latin letters lower-cased.

English (WER, over words)
  1. NFKC, lower case; hyphens and slashes become spaces;
  2. apostrophes dropped (``o'clock`` → ``oclock``), other punctuation dropped;
  3. numbers spelled out: ``10`` → ``ten``, ``1995`` → ``one thousand nine
     hundred ninety five``, a run of five or more digits digit by digit;
  4. ``mr``/``mrs``/``dr``/``st`` → ``mister``/``missus``/``doctor``/``saint``;
     ``oh`` → ``zero`` (digits read aloud);
  5. split on whitespace.
"""
from __future__ import annotations

import re
import unicodedata

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
        "sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "oh": "zero"}
_CN = "零一二三四五六七八九"


def _number_words(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (_number_words(n % 100) if n % 100 else [])
    if n < 1_000_000:
        return _number_words(n // 1000) + ["thousand"] + (_number_words(n % 1000) if n % 1000 else [])
    return [_ONES[int(d)] for d in str(n)]


def _spell(match: re.Match) -> str:
    digits = match.group(0)
    if len(digits) >= 5 or (len(digits) > 1 and digits.startswith("0")):
        return " ".join(_ONES[int(d)] for d in digits)
    return " ".join(_number_words(int(digits)))


def _t2s(text: str) -> str:
    from callcenter.asr.whisper import to_simplified

    return to_simplified(text)


def normalise_zh(text: str) -> str:
    text = unicodedata.normalize("NFKC", _t2s(text))
    text = re.sub(r"\d", lambda m: _CN[int(m.group(0))], text)
    return "".join(ch for ch in text.lower() if ch.isalnum())


def normalise_en(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[-/]", " ", text).replace("'", "").replace("\u2019", "")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"\d+", _spell, text)
    words = re.sub(r"[^\w\s]", " ", text).split()
    return [_ABBREVIATIONS.get(w, w) for w in words]


def edit_distance(ref, hyp) -> int:
    """Levenshtein distance over two sequences (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def units(text: str, language: str) -> list[str]:
    """What errors are counted over: characters (zh) or words (en)."""
    return list(normalise_zh(text)) if language == "zh" else normalise_en(text)


def errors(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """``(edits, reference length)`` after normalisation; pool them over clips for a corpus rate."""
    ref, hyp = units(reference, language), units(hypothesis, language)
    return edit_distance(ref, hyp), len(ref)


def error_rate(pairs, language: str) -> float:
    """Corpus CER (zh) / WER (en) over ``[(reference, hypothesis), ...]``: total edits / total length."""
    edits = total = 0
    for ref, hyp in pairs:
        e, n = errors(ref, hyp, language)
        edits += e
        total += n
    return edits / total if total else 0.0
