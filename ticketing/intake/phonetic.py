"""Pinyin-tolerant matching of domain terms, for speech-recognition errors.

A recogniser that hears 路灯 may write 路等 or 露灯: the characters differ,
the sound does not.  Every Han character is reduced to a *fuzzy* toneless
syllable (zh/z, ch/c, sh/s, n/l, -ng/-n merged, as southern Mandarin
speakers and small acoustic models confuse them) and terms are looked up by
their syllable sequence.  A window is only rewritten when it shares at least
one character with the term, and is not itself an ordinary word, so
homophones with nothing in common, and real words, are left alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u3400-\u9fff]")
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))


@lru_cache(maxsize=20000)
def syllable(ch: str) -> str | None:
    """The fuzzy syllable of one Han character, or None for anything else."""
    if not _HAN.match(ch):
        return None
    py = lazy_pinyin(ch, style=Style.NORMAL)[0]
    for long, short in _INITIALS:
        if py.startswith(long):
            py = short + py[len(long):]
            break
    if py.startswith("l"):
        py = "n" + py[1:]
    if py.endswith("ng"):
        py = py[:-1]
    return py


def syllables(text: str) -> tuple[str | None, ...]:
    return tuple(syllable(ch) for ch in text)


@dataclass(frozen=True)
class Repair:
    """One rewritten window: what was heard, what was meant, where."""

    heard: str
    term: str
    start: int


class PhoneticLexicon:
    """Terms indexed by fuzzy syllables; repairs text that sounds like a term."""

    MIN_LEN = 2
    MAX_LEN = 8

    # Spoken phrases that sound like a domain word but are not one (谁管 "who deals with it" is no 水管).
    NEVER_REPAIRED = frozenset("谁管 没气 个水 有气 睡管 会水 谁家".split())

    def __init__(self, terms: Iterable[str], is_common: Callable[[str], bool] | None = None,
                 strict: Iterable[str] = ()):
        """``strict``: terms a window must share two characters with (villages: 新墅存 is 新墅村,
        占了村 is no 长乐村)."""
        self._is_common = is_common or (lambda word: False)
        self._strict = frozenset(strict)
        self._index: dict[tuple[str, ...], str] = {}
        self._terms: set[str] = set()
        for term in terms:
            if not (self.MIN_LEN <= len(term) <= self.MAX_LEN) or not all(_HAN.match(c) for c in term):
                continue
            key = syllables(term)
            # First term wins for a sound shared by two terms; both are real words then.
            self._index.setdefault(key, term)
            self._terms.add(term)
        self._lengths = sorted({len(k) for k in self._index}, reverse=True)

    def __contains__(self, term: str) -> bool:
        return term in self._terms

    def repair(self, text: str, protected: Iterable[tuple[int, int]] = ()) -> tuple[str, list[Repair]]:
        """Rewrite windows that sound like a term (longest first, left to right); never a window
        overlapping a ``protected`` span (a place said correctly: 余姚泗门 keeps its 泗门)."""
        guard = [False] * len(text)
        for a, b in protected:
            for k in range(max(0, a), min(len(text), b)):
                guard[k] = True
        sounds = syllables(text)
        out: list[str] = []
        repairs: list[Repair] = []
        i = 0
        n = len(text)
        while i < n:
            if sounds[i] is None:
                out.append(text[i])
                i += 1
                continue
            hit = None
            for length in self._lengths:
                if i + length > n:
                    continue
                window = sounds[i:i + length]
                if None in window:
                    continue
                term = self._index.get(window)
                if term is None:
                    continue
                heard = text[i:i + length]
                if heard == term:
                    hit = (term, length, False)
                    break
                shared = sum(a == b for a, b in zip(heard, term))
                if shared >= (2 if term in self._strict else 1) and not self._is_common(heard) \
                        and heard not in self.NEVER_REPAIRED and not any(guard[i:i + length]):
                    hit = (term, length, True)
                    break
            if hit is None:
                out.append(text[i])
                i += 1
                continue
            term, length, changed = hit
            if changed:
                repairs.append(Repair(text[i:i + length], term, i))
            out.append(term)
            i += length
        return "".join(out), repairs
