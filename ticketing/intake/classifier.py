"""A multinomial naive Bayes text classifier in pure Python, and features.

Features are jieba words plus Han character bigrams (robust to segmentation
and recognition slips) for Chinese, words and word bigrams for English.
Place names are masked before featurising so a department is never learnt
from where its examples happened to be.  The model is a plain dict, saved
as JSON: readable, diffable, no pickle.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable, Sequence

import jieba

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_EN_WORD = re.compile(r"[a-z][a-z']+")
# Words that carry no signal for any field (fillers of spoken Chinese, English stop words).
ZH_STOP = frozenset("喂 你好 您好 嗯 啊 呢 吧 的 了 着 那个 这个 就是 然后 一下 我 我们 你们 他们 是 在 有 也 都 还 就 和 跟 呀 哦 么".split())
EN_STOP = frozenset("the a an and or to of in on at is are was were be been i we you my our it this that for with have has".split())


class Tokenizer:
    """jieba with the domain's words (places, keywords) added, kept apart from jieba's global state."""

    def __init__(self, words: Iterable[str] = ()):
        self._jieba = jieba.Tokenizer()
        self._words = sorted({w for w in words if w and len(w) >= 2})
        self._ready = False

    def _init(self) -> None:
        if not self._ready:
            import logging
            jieba.setLogLevel(logging.WARNING)
            self._jieba.initialize()
            for w in self._words:
                self._jieba.add_word(w, freq=20000)
            self._ready = True

    COMMON_FREQ = 50

    def is_common(self, word: str) -> bool:
        """True for an ordinary word of jieba's dictionary (never "repair" it into a domain term)."""
        self._init()
        return self._jieba.FREQ.get(word, 0) >= self.COMMON_FREQ

    def words(self, text: str) -> list[str]:
        self._init()
        return [w for w in self._jieba.lcut(text) if w.strip()]


def features(text: str, lang: str, tokenizer: Tokenizer) -> list[str]:
    """The bag of features one text is classified by (duplicates removed)."""
    feats: set[str] = set()
    if lang == "en":
        words = [w for w in _EN_WORD.findall(text.lower())]
        content = [w for w in words if w not in EN_STOP]
        feats.update("w:" + w for w in content)
        feats.update(f"b:{a}_{b}" for a, b in zip(words, words[1:]))
        return sorted(feats)
    for w in tokenizer.words(text):
        if w in ZH_STOP or not _HAN_RUN.fullmatch(w):
            if _EN_WORD.fullmatch(w.lower() or "") and w.lower() not in EN_STOP:
                feats.add("w:" + w.lower())
            continue
        feats.add("w:" + w)
    for run in _HAN_RUN.findall(text):
        feats.update("c:" + run[i:i + 2] for i in range(len(run) - 1))
    return sorted(feats)


class NaiveBayes:
    """Multinomial naive Bayes over binary features, Laplace-smoothed and
    weighted by how informative each feature is.

    With a few hundred examples over twenty departments, plain naive Bayes is
    swamped by words every class uses (坏了, 我要, 一个).  Each feature's
    weight is ``1 - H(class | feature) / log(classes)``: a word seen evenly
    across classes weighs ~0, a word seen in one class weighs ~1, and unseen
    features are ignored instead of penalising the classes with most text.
    """

    MIN_WEIGHT = 0.05

    def __init__(self, model: dict):
        self.alpha = float(model["alpha"])
        self.classes: dict[str, dict] = model["classes"]
        self.vocab = int(model["vocab"])
        self.weights: dict[str, float] = model["weights"]
        self.temperature = float(model.get("temperature", 1.0))
        docs = sum(v["docs"] for v in self.classes.values())
        self._prior = {c: math.log(v["docs"] / docs) for c, v in self.classes.items()}
        # Log-likelihoods precomputed once: scoring is then lookups and additions.
        self._loglik: dict[str, dict[str, float]] = {}
        self._missing: dict[str, float] = {}
        for c, v in self.classes.items():
            denom = math.log(v["total"] + self.alpha * self.vocab)
            self._loglik[c] = {f: math.log(n + self.alpha) - denom for f, n in v["counts"].items()}
            self._missing[c] = math.log(self.alpha) - denom

    @classmethod
    def train(cls, rows: Sequence[tuple[Sequence[str], str, float]], *, alpha: float = 1.0,
              temperature: float = 2.0) -> "NaiveBayes":
        """``rows`` are (features, label, weight); a weight > 1 counts a row more (corrections)."""
        classes: dict[str, dict] = {}
        per_feature: dict[str, Counter] = {}
        for feats, label, weight in rows:
            entry = classes.setdefault(label, {"docs": 0.0, "total": 0.0, "counts": Counter()})
            entry["docs"] += weight
            for f in set(feats):
                entry["counts"][f] += weight
                entry["total"] += weight
                per_feature.setdefault(f, Counter())[label] += weight
        n_classes = len(classes)
        weights: dict[str, float] = {}
        for f, by_class in per_feature.items():
            weights[f] = round(_informativeness(by_class, classes, n_classes), 4)
        kept = {f for f, w in weights.items() if w >= cls.MIN_WEIGHT}
        return cls({
            "alpha": alpha, "vocab": max(1, len(per_feature)), "temperature": temperature,
            "weights": {f: weights[f] for f in sorted(kept)},
            "classes": {c: {"docs": v["docs"], "total": v["total"],
                            "counts": {f: n for f, n in sorted(v["counts"].items()) if f in kept}}
                        for c, v in sorted(classes.items())}})

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "vocab": self.vocab, "temperature": self.temperature,
                "weights": self.weights, "classes": self.classes}

    def log_scores(self, feats: Iterable[str]) -> dict[str, float]:
        known = [(f, self.weights[f]) for f in set(feats) if f in self.weights]
        out = {}
        for c, loglik in self._loglik.items():
            missing = self._missing[c]
            out[c] = self._prior[c] + sum(w * loglik.get(f, missing) for f, w in known)
        return out

    def predict(self, feats: Iterable[str], boosts: dict[str, float] | None = None) -> list[tuple[str, float]]:
        """Labels with probabilities, best first; ``boosts`` add log-odds (keyword evidence)."""
        scores = self.log_scores(feats)
        for label, boost in (boosts or {}).items():
            if label in scores:
                scores[label] += boost
        return softmax(scores, self.temperature)


def _informativeness(by_class: Counter, classes: dict, n_classes: int) -> float:
    if n_classes < 2:
        return 1.0
    smoothing = 0.1
    n = sum(by_class.values())
    entropy = 0.0
    for c in classes:
        p = (by_class.get(c, 0.0) + smoothing) / (n + smoothing * n_classes)
        entropy -= p * math.log(p)
    return max(0.0, 1.0 - entropy / math.log(n_classes))


def softmax(scores: dict[str, float], temperature: float = 1.0) -> list[tuple[str, float]]:
    if not scores:
        return []
    top = max(scores.values())
    exp = {c: math.exp((s - top) / temperature) for c, s in scores.items()}
    total = sum(exp.values())
    return sorted(((c, e / total) for c, e in exp.items()), key=lambda x: -x[1])
