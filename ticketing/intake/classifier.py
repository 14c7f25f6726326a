"""Text classifiers in pure Python (a linear model and naive Bayes), and features.

Features are jieba words plus Han character uni-, bi- and trigrams (robust to
segmentation and recognition slips) for Chinese, words, word bigrams and
character 4-grams for English, plus the hand-written cues the extractor finds
(``cue:`` features).  Place names are masked before featurising so a
department is never learnt from where its examples happened to be.  Models
are plain dicts, saved as JSON: readable, diffable, no pickle.  Training the
linear model uses scikit-learn; using it needs nothing but this module.
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

    def frequency(self, word: str) -> int:
        """How often jieba's dictionary saw ``word`` as a word (0: not a word of the language)."""
        self._init()
        return int(self._jieba.FREQ.get(word, 0) or 0)

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
        padded = " " + " ".join(words) + " "
        feats.update("e:" + padded[i:i + 4] for i in range(len(padded) - 3))
        return sorted(feats)
    for w in tokenizer.words(text):
        if w in ZH_STOP or not _HAN_RUN.fullmatch(w):
            if _EN_WORD.fullmatch(w.lower() or "") and w.lower() not in EN_STOP:
                feats.add("w:" + w.lower())
            continue
        feats.add("w:" + w)
    for run in _HAN_RUN.findall(text):
        feats.update("c:" + run[i:i + 2] for i in range(len(run) - 1))
        feats.update("t:" + run[i:i + 3] for i in range(len(run) - 2))
        feats.update("u:" + ch for ch in run)
    return sorted(feats)


class LinearModel:
    """Multinomial logistic regression over binary features: a weight per (feature, class),
    scores summed in plain Python (a few hundred dict look-ups per text), then a softmax at
    the calibrated temperature."""

    kind = "linear"

    def __init__(self, model: dict):
        self.classes: list[str] = list(model["classes"])
        self.intercept: list[float] = [float(b) for b in model["intercept"]]
        self.temperature = float(model.get("temperature", 1.0))
        self.weights: dict[str, list[list]] = model["weights"]  # feature → [[class index, weight], ...]
        self.meta = dict(model.get("meta", {}))

    @classmethod
    def train(cls, rows: Sequence[tuple[Sequence[str], str, float]], *, C: float = 4.0, prune: float = 0.04,
              temperature: float = 1.0) -> "LinearModel":
        """``rows`` are (features, label, weight).  Weights below ``prune`` are dropped (the file
        stays small; accuracy does not move).  Deterministic: same rows, same model."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        vec = DictVectorizer(sort=True)
        X = vec.fit_transform([{f: 1.0 for f in feats} for feats, _label, _w in rows])
        y = [label for _feats, label, _w in rows]
        sample_weight = [w for _feats, _label, w in rows]
        classes = sorted(set(y))
        if len(classes) < 2:
            return cls({"classes": classes, "intercept": [0.0] * len(classes), "weights": {}, "temperature": temperature})
        clf = LogisticRegression(C=C, max_iter=1000, tol=1e-4)
        clf.fit(X, y, sample_weight=sample_weight)
        coef = clf.coef_
        order = [list(clf.classes_).index(c) for c in classes]
        if coef.shape[0] == 1:  # two classes: sklearn keeps one row (the second class's log-odds)
            coef = [[-v / 2 for v in coef[0]], [v / 2 for v in coef[0]]]
            intercept = [-clf.intercept_[0] / 2, clf.intercept_[0] / 2]
        else:
            coef = [list(row) for row in coef]
            intercept = list(clf.intercept_)
        names = vec.get_feature_names_out()
        weights: dict[str, list[list]] = {}
        for j, name in enumerate(names):
            ws = [[k, round(float(coef[order[k]][j]), 3)] for k in range(len(classes))
                  if abs(coef[order[k]][j]) >= prune]
            if ws:
                weights[str(name)] = ws
        return cls({"classes": classes, "intercept": [round(float(intercept[o]), 4) for o in order],
                    "weights": weights, "temperature": temperature})

    def to_dict(self) -> dict:
        return {"kind": self.kind, "classes": self.classes, "intercept": self.intercept,
                "temperature": self.temperature, "weights": self.weights, "meta": self.meta}

    def log_scores(self, feats: Iterable[str]) -> dict[str, float]:
        scores = list(self.intercept)
        for f in set(feats):
            for k, w in self.weights.get(f, ()):
                scores[k] += w
        return dict(zip(self.classes, scores))

    def predict(self, feats: Iterable[str], boosts: dict[str, float] | None = None) -> list[tuple[str, float]]:
        """Labels with calibrated probabilities, best first; ``boosts`` add log-odds."""
        return boosted_softmax(self.log_scores(feats), boosts, self.temperature)


def fit_temperature(score_rows: Sequence[tuple[dict[str, float], str]]) -> float:
    """The softmax temperature that minimises the log-loss of held-out (scores, truth) pairs:
    probabilities that mean what they say (calibration by temperature scaling)."""
    if not score_rows:
        return 1.0

    def nll(t: float) -> float:
        total = 0.0
        for scores, truth in score_rows:
            probs = dict(softmax(scores, t))
            total -= math.log(max(probs.get(truth, 0.0), 1e-9))
        return total / len(score_rows)

    lo, hi = 0.2, 8.0  # golden-section search on log-loss (unimodal in t)
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(40):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    return round((lo + hi) / 2, 3)


def load_classifier(model: dict):
    """A classifier object from its dict: ``kind`` linear or (the default, older files) naive Bayes."""
    return LinearModel(model) if model.get("kind") == "linear" else NaiveBayes(model)


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
    kind = "nb"

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
        return boosted_softmax(self.log_scores(feats), boosts, self.temperature)


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


def boosted_softmax(scores: dict[str, float], boosts: dict[str, float] | None,
                    temperature: float) -> list[tuple[str, float]]:
    """Softmax of log-scores after adding ``boosts`` (log-odds) to the labels that have a score."""
    for label, boost in (boosts or {}).items():
        if label in scores:
            scores[label] += boost
    return softmax(scores, temperature)


def softmax(scores: dict[str, float], temperature: float = 1.0) -> list[tuple[str, float]]:
    if not scores:
        return []
    top = max(scores.values())
    exp = {c: math.exp((s - top) / temperature) for c, s in scores.items()}
    total = sum(exp.values())
    return sorted(((c, e / total) for c, e in exp.items()), key=lambda x: -x[1])
