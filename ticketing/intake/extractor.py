"""Speech/text → work-order proposal: the pure core of intake.

``Extractor.propose(text)`` repairs misheard domain words by sound, finds
places in the gazetteer, masks them, classifies type/department/urgency with
the trained naive Bayes models plus keyword cues, maps onto the taxonomy's
categories (applying its dispatch catalogue), and summarises the request.
No I/O: data comes in through the constructor (see :mod:`.resources`).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from callcenter.personal_data import mask_text
from ticketing.intake.classifier import Tokenizer, features, load_classifier
from ticketing.intake.errors import InvalidText
from ticketing.intake.gazetteer import Address, Gazetteer
from ticketing.intake.keywords import (CATEGORY_CUES, DANGER_DEPARTMENTS, DEPARTMENT_CUES, POLICY_CATEGORIES, POLICY_DEPARTMENTS, REMIT_DEPARTMENTS,
                                       REPAIR_TERMS, TYPE_CUES,
                                       NOBODY_IN_DANGER, URGENT_PATTERNS, compile_patterns, danger_department, explicit_type,
                                       policy_department,
                                       urgent_cues)
from ticketing.intake.normalize import MAX_TEXT_CHARS, clean, detect_lang, prepare
from ticketing.intake.phonetic import PhoneticLexicon, Repair

FIELDS = ("type", "department", "urgency")
LANGS = ("zh", "en")


@dataclass
class Proposal:
    """A draft work order: every field with a confidence in [0, 1]."""

    lang: str
    type: str
    category: str | None
    department: str | None
    district: str | None
    address: Address
    urgency: str
    summary: str
    confidence: dict[str, float]
    text: str
    alternatives: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    repairs: list[Repair] = field(default_factory=list)
    subdistrict_code: str | None = None
    # True when the department is too uncertain to dispatch automatically: the dispatcher
    # console shows these first and a person chooses (threshold calibrated out of fold).
    needs_dispatcher: bool = False

    def work_order_fields(self) -> dict:
        """The draft as fields for ``WorkOrderService.create``; unknown ones are left for the agent to fill."""
        fields = {"type": self.type, "category": self.category, "district": self.district,
                  "subdistrict": self.subdistrict_code if self.district else None,
                  "address": (self.address.text or None) and self.address.text[:300], "urgency": self.urgency,
                  "summary": self.summary[:200] or None, "description": self.text[:4000],
                  "department": self.department}
        return {k: v for k, v in fields.items() if v is not None}

    def as_dict(self) -> dict:
        return {
            "lang": self.lang, "type": self.type, "category": self.category,
            "department": self.department, "district": self.district,
            "address": self.address.as_dict(), "urgency": self.urgency, "summary": self.summary,
            "confidence": dict(self.confidence), "text": self.text,
            "alternatives": {k: [[label, round(p, 3)] for label, p in v] for k, v in self.alternatives.items()},
            "repairs": [{"heard": r.heard, "term": r.term, "start": r.start} for r in self.repairs],
            "needs_dispatcher": self.needs_dispatcher,
        }


class Extractor:
    """Holds the loaded data (gazetteer, models, taxonomy) and proposes work orders."""

    TYPE_CUE_BOOST = 3.0         # log-odds added per type cue found (at most 3 counted)
    DEPARTMENT_CUE_BOOST = 3.0   # log-odds added per unit of department cue weight (at most 3 units)
    CATEGORY_CUE_SHARE = 0.5     # category cues also count for their default department
    CATEGORY_OVERRIDE_SCORE = 1.0  # cue score at which the dispatch catalogue may re-route (one cue word: 油烟, 垃圾桶)
    URGENT_MODEL_THRESHOLD = 0.85       # naive Bayes models; a linear model carries its own (meta)
    NEEDS_DISPATCHER_BELOW = 0.5        # department confidence, when the model does not carry its own
    CALM_TYPES = ("praise", "suggestion")  # a question may tell of a danger happening now
    SUMMARY_CHARS = 60
    ANALYSIS_CACHE = 5000

    def __init__(self, gazetteer: Gazetteer, model: dict | None, taxonomy=None, *,
                 department_map: dict[str, str] | None = None):
        """``department_map``: the model's department labels → ``taxonomy``'s codes, for a
        deployment whose departments differ from the labeled set's (see :func:`department_map`)."""
        self.gazetteer = gazetteer
        self.taxonomy = taxonomy
        self.model_info = dict((model or {}).get("meta", {}))
        self.models = {f: load_classifier(m) for f, m in (model or {}).get("fields", {}).items()}
        self._urgent = compile_patterns(URGENT_PATTERNS)
        self._danger_departments = [(d, re.compile(p, re.I)) for d, p in DANGER_DEPARTMENTS]
        self._remit_departments = [(d, re.compile(p, re.I)) for d, p in REMIT_DEPARTMENTS]
        self._policy_departments = [(d, re.compile(p, re.I)) for d, p in POLICY_DEPARTMENTS]
        self._type_cues = {t: compile_patterns(cues) for t, cues in TYPE_CUES.items()}
        self._dept_cues = {d: tuple(_cue(c) for c in cues) for d, cues in DEPARTMENT_CUES.items()}
        self._categories = self._category_cues(taxonomy)
        # What this deployment's taxonomy knows (None: no taxonomy, anything goes).  The
        # shipped model and cues speak the shipped codes; a taxonomy with its own
        # departments or districts must never receive a code it does not have.
        self._departments = frozenset(taxonomy.departments) if taxonomy else None
        self._districts = frozenset(taxonomy.districts) if taxonomy else None
        self._department_map = None
        if taxonomy:
            self._department_map = {d: d for d in taxonomy.departments}
            self._department_map.update({k: v for k, v in (department_map or {}).items() if v in taxonomy.departments})
        # and back: a category cue for one of this taxonomy's departments is evidence for
        # the model labels that stand for it
        self._labels_for: dict[str, list[str]] = {}
        for label, code in (self._department_map or {}).items():
            self._labels_for.setdefault(code, []).append(label)
        self._subdistrict_codes = {(d.code, s.zh): s.code for d in (taxonomy.districts.values() if taxonomy else ())
                                   for s in d.subdistricts.values()}
        cue_words = {c for cues in CATEGORY_CUES.values() for c in cues}
        cue_words |= {c for cues in DEPARTMENT_CUES.values() for c in cues}
        han = [w for w in cue_words if re.fullmatch(r"[\u4e00-\u9fff]{2,8}", w)]
        han = sorted(han, key=lambda w: (-len(w), w))  # a fixed order: training must be reproducible
        self.tokenizer = Tokenizer([*gazetteer.terms(), *han])
        # Sound repair towards named places only (not the thousands of village and community
        # names, nor two-character bare names: too many ordinary phrases sound like one of them).
        # The ten districts' two-character names are repaired too (磁溪 → 慈溪, 北轮 → 北仑): a caller says
        # them more than any other place, and none sounds like an ordinary word sharing a character.
        # Villages and communities too, by their full name only (新墅存 → 新墅村, 蒲家存 → 蒲家村): three
        # syllables or more, the last one the 村/社区 a caller says.
        heard_as = [t for t in gazetteer.terms(("district", "subdistrict", "town", "road", "landmark")) if len(t) >= 3
                    or t in gazetteer.by_name or gazetteer.kind_of(t) == "district"]
        villages = [t for t in gazetteer.terms(("village", "community")) if len(t) >= 3 and t.endswith(("村", "社区"))]
        heard_as += villages
        self.lexicon = PhoneticLexicon([*heard_as, *REPAIR_TERMS], is_common=self.tokenizer.is_common, strict=villages)
        self._analysed: dict = {}

    @staticmethod
    def _category_cues(taxonomy) -> dict[str, tuple[str, tuple[str, ...]]]:
        """category code → (default department, cues) for the categories the taxonomy has."""
        if taxonomy is None:
            return {}
        out = {}
        for code, cat in taxonomy.categories.items():
            cues = [c.lower() for c in CATEGORY_CUES.get(code, ())]
            cues += [cat.zh.split("(")[0], cat.en.lower()]
            out[code] = (cat.department, tuple(dict.fromkeys(c for c in cues if c)))
        return out

    # -- the pipeline ------------------------------------------------------------------

    def prepare(self, text, lang: str | None = None) -> tuple[str, str, float, list[Repair]]:
        if not isinstance(text, str):
            raise InvalidText("文本必须是字符串 / text must be a string", {"type": type(text).__name__})
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidText(f"文本过长 / text longer than {MAX_TEXT_CHARS} characters",
                              {"length": len(text), "max": MAX_TEXT_CHARS})
        if not clean(text):
            raise InvalidText("文本为空 / text is empty", {})
        if lang is not None and lang not in LANGS:
            raise InvalidText(f"不支持的语言 / unsupported language {lang!r}", {"lang": str(lang)[:16], "allowed": list(LANGS)})
        norm = prepare(text)
        detected, lang_conf = detect_lang(norm)
        if lang is None:
            lang = detected
        else:
            lang_conf = 1.0
        repairs: list[Repair] = []
        if lang == "zh":
            said = [(m.start, m.end) for m in self.gazetteer.find(norm) if not m.fuzzy and len(m.surface) >= 2]
            norm, repairs = self.lexicon.repair(norm, said)
        return norm, lang, lang_conf, repairs

    def with_model(self, model: dict | None) -> "Extractor":
        """The same data with other trained models; shares the loaded lexicon, tokenizer and cache."""
        other = copy.copy(self)
        other.model_info = dict((model or {}).get("meta", {}))
        other.models = {f: load_classifier(m) for f, m in (model or {}).get("fields", {}).items()}
        return other

    def analyse(self, text: str, lang: str | None = None):
        """Normalised text, language, repairs, places and classifier features (also used to train).

        Results are cached per (text, lang): training and evaluation see the same texts again and again.
        """
        key = (text, lang)
        hit = self._analysed.get(key) if isinstance(text, str) else None
        if hit is not None:
            return hit
        result = self._analyse(text, lang)
        if len(self._analysed) >= self.ANALYSIS_CACHE:
            self._analysed.clear()
        self._analysed[key] = result
        return result

    def clear_cache(self) -> None:
        """Forget cached analyses (benchmarks measure the full pipeline)."""
        self._analysed.clear()

    def _analyse(self, text, lang):
        norm, lang, lang_conf, repairs = self.prepare(text, lang)
        spans = [(r.start, r.start + len(r.term)) for r in repairs]
        where = self.gazetteer.resolve(norm, spans)
        masked = list(norm)
        for m in where.matches:
            for k in range(m.start, m.end):
                masked[k] = " "
        feats = features("".join(masked), lang, self.tokenizer) + self._cue_features(norm.lower())
        return norm, lang, lang_conf, repairs, where, feats

    def _cue_features(self, low: str) -> list[str]:
        """The hand-written cues as features the classifier weighs (from the static cue tables
        only, so a deployment's own taxonomy does not change what the model sees): ordinal
        levels per department and type, and whether a present danger is told."""
        out = []
        topic = mask_locatives(low)
        for label, cues in self._dept_cues.items():
            weight = sum(w for match, w in cues if match(topic))
            out += [f"cue:d:{label}:{level}" for level in (0.5, 1, 2, 3) if weight >= level]
        for label, cues in self._type_cues.items():
            hits = sum(1 for c in cues if c.search(low))
            out += [f"cue:t:{label}:{level}" for level in (1, 2, 3) if hits >= level]
        if urgent_cues(low, self._urgent):
            out.append("cue:urgent")
        return out

    def propose(self, text: str, lang: str | None = None) -> Proposal:
        norm, lang, lang_conf, repairs, where, feats = self.analyse(text, lang)
        low = norm.lower()

        type_alts = self._predict("type", feats, self._type_boosts(low))
        topic = mask_locatives(low)  # 公交站旁边的路灯 is about the light, not the bus stop
        cat_scores = self._category_scores(topic)
        main = self._main_topic(norm, lang)
        if main is not None:  # two topics: the first request decides (scope.md §1.1)
            feats_main = self.analyse(main, lang)[-1]
            if self.TYPE_FROM_MAIN:
                type_alts = self._predict("type", feats_main, self._type_boosts(main.lower()))
            topic = mask_locatives(main.lower())
            cat_scores = self._category_scores(topic)
            dept_alts = self._predict("department", feats_main, self._department_boosts(topic))
        else:
            dept_alts = self._predict("department", feats, self._department_boosts(topic))
        district = where.district
        if self._districts is not None and district not in self._districts:
            district = None
        model_unknown = False
        if self._department_map is not None:
            # Model labels in this taxonomy's codes; labels mapped to one department pool
            # their probability (water, power and gas → one utilities bureau).
            model_unknown = bool(dept_alts) and dept_alts[0][0] not in self._department_map
            pooled: dict[str, float] = {}
            for label, p in dept_alts:
                if label in self._department_map:
                    code = self._department_map[label]
                    pooled[code] = pooled.get(code, 0.0) + p
            dept_alts = sorted(pooled.items(), key=lambda kv: -kv[1])
        first_type = type_alts[0][0] if type_alts else None
        if self.USE_POLICY_DEPARTMENTS and first_type == "suggestion":
            # a suggestion about a matter goes where the matter goes (no danger is told in one)
            topic_low = main.lower() if main is not None else low
            dept_alts = self._policy_first(topic_low, dept_alts)
            named = self._policy_category(low, topic_low)
            if named and named in self._categories:
                cat_scores = {**cat_scores, named: cat_scores.get(named, 0.0) + 2.0}
        if self.USE_DANGER_DEPARTMENTS and first_type not in self.CALM_TYPES:
            topic_low = main.lower() if main is not None else low
            dept_alts = self._danger_first(low, dept_alts, topic_low)
            named = self._policy_category(low, topic_low)
            if named and named in self._categories:  # the hard case's category: dispatch.yaml re-routes it
                cat_scores = {**cat_scores, named: cat_scores.get(named, 0.0) + 2.0}
        department = dept_alts[0][0] if dept_alts else None
        dept_conf = dept_alts[0][1] if dept_alts else 0.0
        if (model_unknown or department is None) and cat_scores:
            # The model's best department is not one of this taxonomy's (a deployment with
            # its own departments and no retrained model yet): the taxonomy's categories,
            # named in the text, and its dispatch catalogue decide.
            category, cat_conf = self._best_category(cat_scores)
            department, dept_conf = self._route(category, district), cat_conf
        else:
            category, cat_conf, routed = self._category(cat_scores, department, district)
            if routed and routed != department:
                department, dept_conf = routed, max(dept_conf, cat_conf)
        type_alts = self._explicit_type(low, type_alts, main.lower() if main is not None else low)
        urgency, urg_conf = self._urgency(low, feats, type_alts[0][0] if type_alts else None)
        summary = summarise(norm, lang, self.SUMMARY_CHARS)
        type_label, type_conf = type_alts[0] if type_alts else ("consultation", 0.0)
        addr = copy.copy(where.address)  # the analysis is cached: never hand out its objects
        addr_parts = sum(1 for v in (addr.subdistrict, addr.road, addr.landmark, addr.community) if v)
        address_conf = round(min(0.95, 0.35 * addr_parts + (0.15 if addr.house_number else 0.0)), 3)
        confidence = {
            "lang": round(lang_conf, 3), "type": round(type_conf, 3), "department": round(dept_conf, 3),
            "category": round(cat_conf, 3), "district": where.confidence, "address": address_conf,
            "urgency": round(urg_conf, 3), "summary": 0.6 if summary else 0.0,
        }
        if district is None:
            confidence["district"] = 0.0
        dept_model = self.models.get("department")
        below = getattr(dept_model, "meta", {}).get("needs_dispatcher_below", self.NEEDS_DISPATCHER_BELOW)
        needs_dispatcher = department is None or confidence["department"] < below  # as shown, rounded
        return Proposal(lang=lang, type=type_label, category=category, department=department,
                        district=district, address=addr, urgency=urgency, summary=summary,
                        confidence=confidence, text=norm,
                        alternatives={"type": type_alts[:3], "department": dept_alts[:3]},
                        repairs=list(repairs),
                        subdistrict_code=self._subdistrict_codes.get((district, addr.subdistrict)),
                        needs_dispatcher=needs_dispatcher)

    # -- fields ----------------------------------------------------------------------

    _SECOND_TOPIC = re.compile(r"(顺便(问|说|反映|讲)|另外(我)?(还)?(想|要)?(问|说|反映)|另外还有|另外一个事|还有个事|还有一件事|"
                               r"还有一个事|还有一个问题|还有[，, ]|哦还有|(?<![这就])对了|"
                               r"by the way|also,? (i|can i) (want|would like) to ask|another question)", re.I)
    _MAIN_SAID = re.compile(r"(主要是|最主要|主要想|主要的事|mainly|the main thing)", re.I)
    # "I meant to ask about X — wait, right now …": the question is dropped, what follows is the call.
    _ABANDONED = re.compile(r"(本来想问|本来要问|原本想问|本来想咨询).{0,40}?(等一下|不过现在|但是刚才|但是现在|算了|先不问了)[，,。 ]*")
    TYPE_FROM_MAIN = True

    def _main_topic(self, norm: str, lang: str) -> str | None:
        """The first request of a two-topic call, when a second topic is tacked on ("顺便问一下…",
        "by the way …") and the caller does not call the second one the main one, and it tells
        of no present danger (a danger always becomes the main topic)."""
        dropped = self._ABANDONED.search(norm)
        if dropped is not None and len(norm) - dropped.end() >= 4:
            return norm[dropped.end():]
        m = self._SECOND_TOPIC.search(norm)
        if m is None or m.start() < 6:
            return None
        first, second = norm[:m.start()], norm[m.start():]
        if self._MAIN_SAID.search(second) or (urgent_cues(second.lower(), self._urgent)
                                              and not urgent_cues(first.lower(), self._urgent)):
            return None
        return first

    # How often the rules' answer was right where they fired (held-back splits and the dev set, model
    # m5): the department for a present danger 115 of 115, an explicit type 214 of 214.
    DANGER_DEPARTMENT_CONFIDENCE = 0.97
    USE_DANGER_DEPARTMENTS = True
    USE_REMIT_DEPARTMENTS = True
    USE_POLICY_DEPARTMENTS = True

    def _danger_first(self, low: str, dept_alts: list[tuple[str, float]], topic: str | None = None) -> list[tuple[str, float]]:
        """The department alternatives with the one that answers a present danger told in the call
        put first (keywords.DANGER_DEPARTMENTS, scope.md §3), when this taxonomy has it; else the
        one a matter of the main topic ``topic`` has whatever the wording (REMIT_DEPARTMENTS, then
        the hard cases of POLICY_DEPARTMENTS)."""
        label = danger_department(low, self._danger_departments)
        if label is None and self.USE_REMIT_DEPARTMENTS:
            label = danger_department(low, self._remit_departments)
        if label is None and self.USE_POLICY_DEPARTMENTS:
            label = policy_department(topic if topic is not None else low, self._policy_departments)
        return self._label_first(label, dept_alts)

    def _label_first(self, label: str | None, dept_alts: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """A rule's department ``label`` (the model's name, mapped onto the deployment's departments) put
        first with the rules' measured confidence; the model's list unchanged when no rule answered or
        the deployment has no such department."""
        if label is None:
            return dept_alts
        code = self._department_map.get(label, label) if self._department_map is not None else label
        if self._departments is not None and code not in self._departments:
            return dept_alts
        return _put_first(dept_alts, code, self.DANGER_DEPARTMENT_CONFIDENCE)

    def _policy_first(self, topic: str, dept_alts: list[tuple[str, float]]) -> list[tuple[str, float]]:
        label = policy_department(topic, self._policy_departments)
        return self._label_first(label, dept_alts)

    def _policy_category(self, low: str, topic: str) -> str | None:
        """The category of the hard-case family (keywords.POLICY_CATEGORIES) that decided the
        department, when no present danger or remit rule came first."""
        if not self.USE_POLICY_DEPARTMENTS or danger_department(low, self._danger_departments):
            return None
        if self.USE_REMIT_DEPARTMENTS and danger_department(low, self._remit_departments):
            return None
        for (_d, pattern), (_d2, source) in zip(self._policy_departments, POLICY_DEPARTMENTS):
            if pattern.search(topic):
                return POLICY_CATEGORIES.get(source)
        return None

    EXPLICIT_TYPE_CONFIDENCE = 0.95   # a type the caller made explicit (keywords.explicit_type)
    USE_EXPLICIT_TYPES = True

    def _explicit_type(self, low: str, type_alts: list[tuple[str, float]], main: str) -> list[tuple[str, float]]:
        """The classifier's types, with the one the caller made explicit in the main topic (``main``)
        put first (scope.md §1.5); a present danger anywhere in the call counts."""
        if not self.USE_EXPLICIT_TYPES:
            return type_alts
        predicted = type_alts[0][0] if type_alts else None
        explicit = explicit_type(main, bool(urgent_cues(low, self._urgent)), predicted)
        if explicit is None:
            return type_alts
        return _put_first(type_alts, explicit, self.EXPLICIT_TYPE_CONFIDENCE)

    def _predict(self, name: str, feats, boosts=None) -> list[tuple[str, float]]:
        model = self.models.get(name)
        if model is None:
            if boosts:
                best = max(boosts, key=boosts.get)
                return [(best, 0.5)]
            return []
        if model.kind == "linear":  # it learnt the cues' weight from the cue features
            return model.predict(feats)
        return model.predict([f for f in feats if not f.startswith("cue:")], boosts)

    def _type_boosts(self, low: str) -> dict[str, float]:
        boosts = {}
        for label, cues in self._type_cues.items():
            hits = sum(1 for c in cues if c.search(low))
            if hits:
                boosts[label] = self.TYPE_CUE_BOOST * min(hits, 3)
        return boosts

    def _department_boosts(self, low: str) -> dict[str, float]:
        """Cue evidence per department; a longer cue is more specific and weighs more."""
        weights: dict[str, float] = {}
        for label, cues in self._dept_cues.items():
            weight = sum(w for match, w in cues if match(low))
            if weight:
                weights[label] = weight
        if self.CATEGORY_CUE_SHARE:
            for code, score in self._category_scores(low).items():
                dept = self._categories[code][0]
                for label in self._labels_for.get(dept, (dept,)):
                    weights[label] = weights.get(label, 0.0) + self.CATEGORY_CUE_SHARE * score
        return {label: self.DEPARTMENT_CUE_BOOST * min(w, 3.0) for label, w in weights.items()}

    def _category_scores(self, low: str) -> dict[str, float]:
        scores = {}
        for code, (_dept, cues) in self._categories.items():
            s = sum(min(len(c), 4) * 0.5 for c in cues if c in low)
            if s:
                scores[code] = s
        return scores

    def _category(self, scores: dict[str, float], department: str | None, district: str | None):
        """Best category handled by ``department``; and where the dispatch catalogue routes it."""
        if self.taxonomy is None or department is None:
            return None, 0.0, None
        eligible = {}
        for code, (default, _cues) in self._categories.items():
            routed = self._route(code, district)
            if default == department or routed == department:
                eligible[code] = scores.get(code, 0.0)
        if not eligible:
            return None, 0.0, None
        best = max(eligible, key=lambda c: (eligible[c], -list(self._categories).index(c)))
        score = eligible[best]
        if score == 0.0:  # nothing in the text names one of this department's categories
            return None, 0.0, None
        total = sum(eligible.values())
        conf = min(0.95, 0.4 + 0.15 * score) * (score / total)
        routed = self._route(best, district) if score >= self.CATEGORY_OVERRIDE_SCORE else None
        return best, conf, routed

    def _best_category(self, scores: dict[str, float]) -> tuple[str, float]:
        """The category the text names most clearly, whatever its department, and a confidence."""
        order = list(self._categories)
        best = max(scores, key=lambda c: (scores[c], -order.index(c)))
        score, total = scores[best], sum(scores.values())
        return best, min(0.95, 0.4 + 0.15 * score) * (score / total)

    def _route(self, category: str, district: str | None) -> str:
        if district is None:
            return self._categories[category][0]
        try:
            return self.taxonomy.route(category, district)
        except Exception:  # an unknown district in the taxonomy: keep the category's default
            return self._categories[category][0]

    # A hard-case matter of scope.md §2-3 (wage arrears, noise, fumes, illegal building …) is a normal
    # one: where no present-danger rule fires, the urgency model alone makes it urgent only this sure.
    HARD_CASE_URGENT = 0.5

    def _urgency(self, low: str, feats, type_label: str | None) -> tuple[str, float]:
        # Thanks, suggestions and questions tell of danger past or hypothetical, not happening now.
        if type_label not in self.CALM_TYPES and urgent_cues(low, self._urgent):
            return "urgent", 0.9
        alts = self._predict("urgency", feats)
        p_urgent = dict(alts).get("urgent", 0.0)
        model = self.models.get("urgency")
        threshold = getattr(model, "meta", {}).get("urgent_threshold", self.URGENT_MODEL_THRESHOLD)
        if policy_department(low, self._policy_departments) is not None:
            threshold = max(threshold, self.HARD_CASE_URGENT)
        # Danger words said, and every one of them denied, feared or past (如果闻到煤气味…, 不是漏气, no sparks,
        # 走丢过一次 已经找回来了): the model, which learnt those words, does not overrule the rules unless sure.
        if any(p.search(low) for p in self._urgent):
            threshold = max(threshold, self.HARD_CASE_URGENT)
        if type_label not in self.CALM_TYPES and p_urgent >= threshold and not NOBODY_IN_DANGER.search(low):
            return "urgent", p_urgent
        return "normal", round(max(0.5, 1.0 - p_urgent), 3)


def _put_first(alts: list[tuple[str, float]], label: str, confidence: float) -> list[tuple[str, float]]:
    """``alts`` with ``label`` first at ``confidence`` at least (a rule's measured precision), the
    others sharing the rest in their proportions."""
    mine = max(confidence, dict(alts).get(label, 0.0))
    others = [(k, p) for k, p in alts if k != label]
    total = sum(p for _k, p in others)
    scale = (1 - mine) / total if total > 0 else 0.0
    return [(label, mine), *((k, p * scale) for k, p in others)]


def department_map(model_taxonomy, taxonomy) -> dict[str, str]:
    """How the model's department labels (``model_taxonomy``'s codes: the labeled set's,
    i.e. the shipped taxonomy) read in ``taxonomy``: a code both have stays; another goes
    where ``taxonomy`` sends the categories it handled by default, when that is one
    department.  Labels with no single answer are left out (intake then decides by the
    categories the text names)."""
    out = {}
    for code in model_taxonomy.departments:
        if code in taxonomy.departments:
            out[code] = code
            continue
        targets = {taxonomy.categories[c].department for c, cat in model_taxonomy.categories.items()
                   if cat.department == code and c in taxonomy.categories}
        if len(targets) == 1:
            out[code] = targets.pop()
    return out


def _cue(cue: str):
    """(matcher, weight): Han cues match as substrings, English ones as whole words."""
    cue = cue.lower()
    if cue.isascii():
        pattern = re.compile(r"(?<![a-z])" + re.escape(cue) + r"(?![a-z])")
        return pattern.search, 1.0 + 0.5 * cue.count(" ")
    return (lambda text: cue in text), min(len(cue), 4) / 2.0


_LOCATIVE_ZH = re.compile(r"(旁边|附近|门口|对面|边上|隔壁|后面|楼下)")
_LOCATIVE_EN = re.compile(r"\b(near|next to|outside|opposite|behind|in front of|beside)\s+(the\s+|a\s+|our\s+|my\s+)?"
                          r"[a-z]+(\s+(stop|station|gate|school|hospital|market|park|building|square))?")
_LOCATIVE_STOP = set("的在是了，,。！？ 到从去和跟那这个")


def mask_locatives(text: str) -> str:
    """Blank the place a locative names (X旁边, near the X): it says where, not what the request is about."""
    chars = list(text)
    for m in _LOCATIVE_ZH.finditer(text):
        j = m.start()
        while j > 0 and m.start() - j < 4 and text[j - 1] not in _LOCATIVE_STOP:
            j -= 1
        for k in range(j, m.start()):
            chars[k] = " "
    text = "".join(chars)
    return _LOCATIVE_EN.sub(" ", text)


_FILLER = re.compile(r"^(喂+|你好|您好|嗯+|啊|那个|就是|哎|喂喂|hi|hello|hey)[,，\s]*", re.I)
_INTRO = re.compile(r"^(我是|我住在|我家住在?|我们是|我们住在?)[^,，。]{0,16}的?$")
_REQUEST = re.compile(r"(能不能|麻烦|请|帮|赶紧|快|投诉|举报|建议|怎么|表扬|感谢|谢谢|要求|管一管|处理)")
_CLAUSE = re.compile(r"[^,，。！？!?；;]+")



def summarise(text: str, lang: str, limit: int = 60) -> str:
    """The caller's request in a line: fillers and self-introductions dropped, the ask kept, phones masked."""
    text = mask_text(text)   # callcenter.personal_data: a summary is read by departments
    if lang == "en":
        sentences = re.split(r"(?<=[.!?])\s+", text.strip())
        out = []
        for s in sentences:
            s = _FILLER.sub("", s.strip()).strip()
            if s:
                out.append(s)
            if sum(len(x) for x in out) >= limit * 2:
                break
        joined = " ".join(out)
        return joined if len(joined) <= limit * 3 else joined[: limit * 3 - 1].rstrip() + "…"
    clauses = []
    for c in _CLAUSE.findall(text):
        c = c.strip()
        while True:
            stripped = _FILLER.sub("", c).strip()
            if stripped == c:
                break
            c = stripped
        if c and not _INTRO.match(c):
            clauses.append(c)
    if not clauses:
        return clean(text)[:limit]
    chosen = []
    for c in clauses:
        if sum(len(x) + 1 for x in chosen) + len(c) > limit:
            break
        chosen.append(c)
    if not chosen:
        chosen = [clauses[0][:limit]]
    ask = next((c for c in reversed(clauses) if _REQUEST.search(c)), None)
    if ask and ask not in chosen:
        while chosen and sum(len(x) + 1 for x in chosen) + len(ask) > limit and len(chosen) > 1:
            chosen.pop()
        chosen.append(ask)
    summary = "，".join(chosen)
    return summary if len(summary) <= limit + 20 else summary[: limit + 19] + "…"
