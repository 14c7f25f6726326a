"""Training utterances composed from the scope policy's lexicon (reproducible, seeded).

    python -m ticketing.intake.synth > ticketing/intake/data/synthetic.tsv

Each situation of :data:`~ticketing.intake.synth_lexicon.LEXICON` is said several ways: with a
request-type frame (help, complaint, report, consultation, suggestion, praise), a place said
the ways callers say it (district + 街道, a bare town name with 这边, a village, a road with a
house number, a landmark, or nothing), openers, fillers, Ningbo dialect words, recognition
errors (homophone swaps, lost punctuation, a misheard place), two-topic calls (the main topic
decides, scope.md §1) and negated or hypothetical mentions of a danger (not urgent, §4).

The id's trailing number is the situation's group: the fixed held-back rule of
:mod:`ticketing.intake.dataset` (number divisible by 5) then holds back whole situations, so
the held-back figure measures phrasings of situations never trained on, not a reworded copy.
"""
from __future__ import annotations

import random
import re
import sys
from collections import defaultdict

from pypinyin import Style, lazy_pinyin

from ticketing.intake.synth_lexicon import (ASR_SLIPS, CALM_FRAMES, DIALECT, DURATIONS, EN_CALM_FRAMES, EN_FRAMES,
                                            EN_OPENERS, EN_PRAISE_DEEDS, EN_STAFF_COMPLAINTS, FILLERS, HELP_FAULTS,
                                            LEXICON, LEXICON_MORE, OPENERS, PRAISE_DEEDS, STAFF_COMPLAINTS, TYPE_FRAMES)

SEED = 18

# Request type of a situation said without blame (tests/intake/blind/SCOPE.md §4, adopted in
# scope.md §1.5): a public fault or hazard seen is a report; a problem in the caller's own home
# or person that needs someone now is help; otherwise the caller is affected and wants it put
# right: a complaint.
_PUBLIC = re.compile(r"(路灯|井盖|窨井|垃圾|公厕|厕所|绿化|地砖|树|站牌|站台|路面|坑|桥面|红绿灯|信号灯|消防栓|积水|电线|变压器|"
                     r"变电箱|电表箱|下水道|雨水井|涵洞|健身器材|充电桩|烟囱|河|扬尘|粉尘|黑烟|公路|栏杆|广告牌|马路|路口|楼道|"
                     r"streets?|light|manhole|rubbish|bins|toilet|pothole|traffic|chimney|river|drains|road|junction|"
                     r"hydrant|tree|stairwell|pavement|sidewalk|护栏|隔离栏|盲道|人行道|长椅|指示牌|排水沟|雨水篦子|步道|桥|隧道|下穿|"
                     r"扶梯|游乐设施|合格证|lamp posts?|slabs|bridge|park lights|escalator)", re.I)
_PERSONAL = re.compile(r"(我|家|困|关着人|关人|老人|孩子|小孩|奶奶|被骗|走丢|联系不上|里面|出不来|跳楼|头晕|流浪|躺在|受伤|摔倒|"
                       r"被压|打人|救命|不敢出去|哭|打架|打起来|刀|砸门|房子|后山|养的|养殖场的|behind our|houses|"
                       r"转移|my |our |we |i |stuck|trapped|people inside|old people|jump|"
                       r"knife|injured|lying|screaming|crying|not moving|following me|hiding|homeless)", re.I)


def plain_type(situation: str, kind: str, dept: str = "") -> str:
    if situation in HELP_FAULTS:
        return "help"
    if kind != "urgent" and re.search(r"(停水|停电|停气).{0,8}(也没|没有?提前|不通知|没人|一再)|又(停|没)", situation):
        return "complaint"  # an outage told as a grievance: no notice, nobody came, again
    if re.search(r"(停水|停电|停气|没水|没电|一滴水|no water|no power|lost power|without (power|water|electricity))", situation,
                 re.I):
        return "help"  # the caller's own home without water or power
    if kind == "urgent":
        return "help" if _PERSONAL.search(situation) else "report"
    if dept == "emergency-management":  # a workplace hazard: a worker's own is a grievance, one seen is a report
        return "complaint" if re.search(r"(我们|我|our |my )", situation) else "report"
    if _PUBLIC.search(situation) and not re.search(r"(物业|不管|不修|一直不|不来|不给|不肯|没批|不退|拖着|拖了|推给)", situation):
        return "report"
    if re.search(r"^(家里|我家)|(家里|my flat|my home|at home)", situation):
        return "help"
    return "complaint"


# Categories dispatch.yaml re-routes in some districts (scope.md §2): a situation of one of them is
# never placed in such a district, so its label (the default department) stays the policy's answer.
ROUTED = (
    ("urban-management", re.compile(r"(垃圾|果壳箱|rubbish|bins?\b|litter)", re.I), {"haishu", "jiangbei"}),
    ("urban-management", re.compile(r"(油烟|烧烤|油条|fumes|barbecue|fries)", re.I), {"haishu"}),
    ("urban-management", re.compile(r"(违章|违建|加盖|搭建|扩建|搭了|搭个|彩钢|棚|围起来|圈起来|extension|shed|built)", re.I),
     {"ninghai", "xiangshan", "yuyao", "cixi"}),
    ("housing", re.compile(r"(工地|施工|打桩|塔吊|混凝土|construction|building site|pile)", re.I), {"haishu", "yinzhou"}),
    ("housing", re.compile(r"(物业|保安|业委会|property (company|management|manager)|management company|management keeps)",
                           re.I),
     {"ninghai", "xiangshan"}),
    ("environment", re.compile(r"(噪音|噪声|轰|响|noise)", re.I), {"zhenhai", "beilun"}),
)


def avoid_districts(dept: str, text: str) -> set[str]:
    """Districts where dispatch.yaml would send ``text`` (a situation of ``dept``) elsewhere."""
    out: set[str] = set()
    for d, pattern, districts in ROUTED:
        if d == dept and pattern.search(text):
            out |= districts
    return out


class Places:
    """Ways a caller names where: from the one place list (taxonomy + gazetteer rows)."""

    def __init__(self, rng: random.Random):
        from ticketing.intake.resources import GAZETTEER_PATH, read_tsv
        from ticketing.taxonomy import load_taxonomy

        self.rng = rng
        self.taxonomy = load_taxonomy()
        rows = [r for r in read_tsv(GAZETTEER_PATH) if "|" not in r["district"]]
        districts_of = defaultdict(set)
        for r in rows:
            districts_of[r["name"]].add(r["district"])
        # a name found in several districts (石门村) does not tell the district: never used
        self.rows = [r for r in rows if len(districts_of[r["name"]]) == 1]
        self.by_kind = defaultdict(list)
        for r in self.rows:
            self.by_kind[r["kind"]].append(r)

    def pick(self, lang: str, avoid: set[str] = frozenset()) -> tuple[str, str | None]:
        """(phrase, district code or None), never in a district of ``avoid``."""
        for _ in range(50):
            phrase, district = self._pick(lang)
            if district not in avoid:
                return phrase, district
        return "", None

    def short(self) -> tuple[str, str | None]:
        """A bare place before a short call: a town, a landmark or a village, and a pause."""
        rng = self.rng
        if rng.random() < 0.5:
            d = rng.choice(list(self.taxonomy.districts.values()))
            sub = rng.choice(list(d.subdistricts.values()))
            bare = sub.zh[:-2] if sub.zh.endswith("街道") else sub.zh[:-1]
            return (bare if len(bare) >= 2 else sub.zh) + rng.choice(["，", " ", "这里，", "这边"]), d.code
        r = rng.choice(self.by_kind["landmark"] + self.by_kind["village"])
        return r["name"] + rng.choice(["，", "这边，", "边上"]), r["district"]

    def _pick(self, lang: str) -> tuple[str, str | None]:
        rng = self.rng
        roll = rng.random()
        d = rng.choice(list(self.taxonomy.districts.values()))
        sub = rng.choice(list(d.subdistricts.values()))
        bare = sub.zh[:-2] if sub.zh.endswith("街道") else sub.zh[:-1]
        if lang == "en":
            if roll < 0.3:
                return "", None
            if roll < 0.5:
                return rng.choice([f" in {d.en.split()[0]}", f" in {d.en}", f" in {sub.en}"]), d.code
            if roll < 0.75:
                r = rng.choice(self.by_kind["landmark"])
                if r.get("en"):
                    return f" near {r['en'].split('|')[0]}", r["district"]
                return f" in {d.en.split()[0]}", d.code
            r = rng.choice(self.by_kind["road"])
            py = "".join(lazy_pinyin(re.sub(r"(路|街|大道)$", "", r["name"]))).capitalize()
            return f" on {py} Road", r["district"]
        if roll < 0.28:
            return "", None
        if roll < 0.42:
            return rng.choice([f"{d.zh}{sub.zh}的", f"我是{d.zh}{sub.zh}的，", f"{d.zh}{sub.zh}这边，", f"我住在{d.zh}{sub.zh}，"]), d.code
        if roll < 0.56:
            if len(bare) >= 2:
                return rng.choice([f"我是{bare}这边的，", f"{bare}那边，", f"我们{bare}这边", f"住在{bare}那块的，", f"在{bare}这里",
                                   f"{sub.zh}的，"]), d.code
            return f"{sub.zh}的，", d.code
        if roll < 0.64:
            return rng.choice([f"{d.zh}的，", f"我们{d.zh[:2]}这边", f"{d.zh}这里"]), d.code
        if roll < 0.76:
            r = rng.choice(self.by_kind["village"] + self.by_kind["community"])
            return rng.choice([f"我们{r['name']}的", f"{r['name']}这边，", f"我是{r['name']}的，"]), r["district"]
        if roll < 0.9:
            r = rng.choice(self.by_kind["road"])
            num = rng.choice(["", f"{rng.randint(1, 900)}号", f"{rng.randint(1, 300)}弄", ""])
            return rng.choice([f"{r['name']}{num}这里，", f"在{r['name']}{num}，", f"{r['name']}上"]), r["district"]
        r = rng.choice(self.by_kind["landmark"])
        return rng.choice([f"{r['name']}附近", f"{r['name']}旁边那个小区，", f"就在{r['name']}边上，"]), r["district"]


class Noise:
    """Recognition errors: homophone swaps and lost punctuation."""

    def __init__(self, rng: random.Random, texts):
        self.rng = rng
        self.by_sound = defaultdict(list)
        seen = set()
        for text in texts:
            for ch in text:
                if "\u4e00" <= ch <= "\u9fff" and ch not in seen:
                    seen.add(ch)
                    self.by_sound[lazy_pinyin(ch, style=Style.NORMAL)[0]].append(ch)

    def homophones(self, text: str, n: int) -> str:
        chars = list(text)
        idx = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
        self.rng.shuffle(idx)
        for i in idx[:n]:
            options = [c for c in self.by_sound[lazy_pinyin(chars[i], style=Style.NORMAL)[0]] if c != chars[i]]
            if options:
                chars[i] = self.rng.choice(sorted(options))
        return "".join(chars)

    def spoken(self, text: str) -> str:
        rng = self.rng
        if rng.random() < 0.25:
            text = re.sub(r"[，。？！,]", rng.choice(["", " "]), text)
        if rng.random() < 0.3:
            text = self.homophones(text, rng.randint(1, 2))
        if rng.random() < 0.2:
            slips = [(a, b) for a, b in ASR_SLIPS if a in text]
            if slips:
                a, b = rng.choice(slips)
                text = text.replace(a, b, 1)
        if rng.random() < 0.15:
            for a, b in DIALECT:
                if a in text and rng.random() < 0.6:
                    text = text.replace(a, b, 1)
        return text


def _zh(rng, noise, places, situation: str, frame: str, *, extra: str = "", when: bool = False,
        avoid: set[str] = frozenset()) -> tuple[str, str | None]:
    place, district = places.pick("zh", avoid)
    duration = rng.choice(DURATIONS) if when else ""
    core = situation + (("，" + duration) if duration else "")
    if rng.random() < 0.25:
        core = rng.choice(FILLERS) + core
    body = frame.format(x=core)
    if place:
        if rng.random() < 0.5 or "{x}" not in frame:
            body = place + body
        else:
            body = body.replace(core, place + core, 1) if core in body else place + body
    text = rng.choice(OPENERS) + body + extra
    if district and rng.random() < 0.12:  # the place itself misheard: the district stays the truth
        text = noise.homophones(text, 1)
    return noise.spoken(text), district


def _en(rng, places, situation: str, frame: str, avoid: set[str] = frozenset()) -> tuple[str, str | None]:
    place, district = places.pick("en", avoid)
    body = frame.format(x=situation + place)
    text = rng.choice(EN_OPENERS) + body
    if rng.random() < 0.2:  # a word or two misheard
        text = text.replace(" the ", " a ", 1).replace("ing ", "in ", 1)
    return text[0].upper() + text[1:], district


TWO_TOPIC_JOINS = ("。还有，顺便问一下", "，另外我还想问下", "，对了，", "。还有个事，", "，顺便说一下，", "。哦还有，我想问问",
                   "，另外还有一个事情，")
DANGER_JOINS = ("，不过现在", "，但是刚才", "。哎先不说这个了，", "。先别管这个，", "，等一下，")
EN_TWO_TOPIC_JOINS = (". Also, by the way, ", ", and another question, ", ". Oh, and ")


def generate(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    places = Places(rng)
    all_text = [p for lexicon in (LEXICON, LEXICON_MORE) for lex in lexicon.values() for v in lex.values() for p in v]
    noise = Noise(rng, all_text + list(OPENERS) + list(FILLERS) + list(DURATIONS))
    rows: list[dict] = []
    seen: set[str] = set()
    group = 0

    def add(text, type_, dept, district, urgency, lang="zh"):
        if text in seen:  # one text, one row: never on both sides of the held-back split
            return
        seen.add(text)
        rows.append({"id": f"sy{len(rows):05d}g{group}", "lang": lang, "text": text, "type": type_, "department": dept,
                     "district": district or "", "urgency": urgency})

    departments = list(LEXICON)
    questions = {d: LEXICON[d]["questions"] + LEXICON_MORE[d]["questions"] for d in departments}
    en_questions = {d: LEXICON[d]["en_questions"] + LEXICON_MORE[d]["en_questions"] for d in departments}

    def situations(dept, lex):
        """The Chinese situations of one department, said with frames, places and noise."""
        nonlocal group
        for kind in ("faults", "violations", "questions", "ideas", "urgent"):
            for situation in lex[kind]:
                group += 1
                avoid = avoid_districts(dept, situation)
                if kind == "faults":
                    plan = [("plain", 3), ("complaint", 3)]
                elif kind == "violations":
                    plan = [("report", 3), ("complaint", 1)]
                elif kind == "questions":
                    plan = [("consultation", 4)]
                elif kind == "ideas":
                    plan = [("suggestion", 4)]
                else:
                    plan = [("plain", 4)]
                for type_, n in plan:
                    if type_ == "plain":  # said without blame: what it is decides (report/help/complaint)
                        type_, frames = plain_type(situation, kind, dept), TYPE_FRAMES["help"]
                    else:
                        frames = TYPE_FRAMES[type_]
                    for _ in range(n):
                        frame = rng.choice(frames)
                        if kind == "questions" and rng.random() < 0.3:
                            frame = "{x}"
                            situation_text = situation + rng.choice(["", "？", "呢", "啊"])
                        else:
                            situation_text = situation
                        text, district = _zh(rng, noise, places, situation_text, frame,
                                             when=kind in ("faults", "violations", "urgent"), avoid=avoid)
                        add(text, type_, dept, district, "urgent" if kind == "urgent" else "normal")
                if kind == "urgent":
                    # the same danger feared, denied or past: normal (scope.md §4)
                    for pattern, type_ in rng.sample(CALM_FRAMES, 3):
                        text, district = _zh(rng, noise, places, pattern.format(x=situation), "{x}", avoid=avoid)
                        add(text, type_, dept, district, "normal")
                    if rng.random() < 0.5:
                        # a question first, then the danger: the danger is the main topic (scope.md §1.1)
                        other = questions[rng.choice([d for d in departments if d != dept])]
                        text, district = _zh(rng, noise, places, situation, "我本来想问一下" + rng.choice(other)
                                             + rng.choice(DANGER_JOINS) + "{x}", avoid=avoid)
                        add(text, plain_type(situation, kind), dept, district, "urgent")
                if kind == "faults" and rng.random() < 0.35:
                    # two topics: the main one decides; a question for another department follows
                    other = questions[rng.choice([d for d in departments if d != dept])]
                    frame = rng.choice(TYPE_FRAMES["help"])
                    text, district = _zh(rng, noise, places, situation, frame,
                                         extra=rng.choice(TWO_TOPIC_JOINS) + rng.choice(other), avoid=avoid)
                    add(text, plain_type(situation, kind, dept), dept, district, "normal")

    def staff_calls(dept, staff_list):
        """Praise and complaints about a department's own staff (scope.md §1.3-4)."""
        nonlocal group
        for staff in staff_list:
            group += 1
            avoid = avoid_districts(dept, staff)
            for _ in range(4):
                frame = rng.choice(TYPE_FRAMES["praise"])
                place, district = places.pick("zh", avoid)
                text = rng.choice(OPENERS) + place + frame.format(s=staff, y=rng.choice(PRAISE_DEEDS))
                add(noise.spoken(text), "praise", dept, district, "normal")
            for _ in range(2):
                frame = rng.choice(TYPE_FRAMES["complaint"])
                text, district = _zh(rng, noise, places, f"{staff}{rng.choice(STAFF_COMPLAINTS)}", frame, avoid=avoid)
                add(text, "complaint", dept, district, "normal")

    def english(dept, lex, calm: bool):
        """The English desk."""
        nonlocal group
        for kind, plan in (("en_faults", ("plain", "complaint")), ("en_violations", ("report", "report")),
                           ("en_questions", ("consultation", "consultation")), ("en_urgent", ("plain", "plain"))):
            for situation in lex[kind]:
                group += 1
                if not situation:  # a situation taken out of the first lexicon: its number stays taken
                    continue
                avoid = avoid_districts(dept, situation)
                for type_ in (*plan, plan[0]):
                    frames = EN_FRAMES["help" if type_ == "plain" else type_]
                    if type_ == "plain":
                        type_ = plain_type(situation, "urgent" if kind == "en_urgent" else "faults")
                    text, district = _en(rng, places, situation, rng.choice(frames), avoid)
                    add(text, type_, dept, district, "urgent" if kind == "en_urgent" else "normal", "en")
                if calm and kind == "en_urgent":
                    pattern, type_ = rng.choice(EN_CALM_FRAMES)
                    text, district = _en(rng, places, pattern.format(x=situation), "{x}", avoid)
                    add(text, type_, dept, district, "normal", "en")
                if calm and kind == "en_faults" and rng.random() < 0.4:
                    other = en_questions[rng.choice([d for d in departments if d != dept])]
                    if other:
                        text, district = _en(rng, places, situation, rng.choice(EN_FRAMES["help"])
                                             + rng.choice(EN_TWO_TOPIC_JOINS) + rng.choice(other), avoid)
                        add(text, plain_type(situation, "faults"), dept, district, "normal", "en")

    # The first lexicon, numbered as it always was (its held-back situations stay held back).
    for dept, lex in LEXICON.items():
        situations(dept, lex)
        staff_calls(dept, lex["staff"])
        english(dept, lex, calm=False)
        group += 1
        en_staff = {"health": "the doctors", "education": "my son's teacher", "water": "the water company repair team",
                    "power": "the power company engineers", "gas": "the gas company engineer",
                    "public-security": "the police officers", "transport": "the bus driver"}.get(dept)
        if en_staff:
            text, district = _en(rng, places, "", rng.choice(EN_FRAMES["praise"]).replace("{s}", en_staff)
                                 .replace("{y}", rng.choice(EN_PRAISE_DEEDS)))
            add(text.replace(",  ", ", "), "praise", dept, district, "normal", "en")

    # Issue 18: the second lexicon, numbered after the first.
    for dept, lex in LEXICON_MORE.items():
        situations(dept, lex)
        english(dept, lex, calm=True)
        for short in lex["short"]:  # a few words, no frame: a short call
            group += 1
            mark, short = (short[0], short[1:]) if short[0] in "!?^" else ("", short)
            urgent = mark == "!"
            kind = "urgent" if urgent else "faults"
            type_ = {"?": "consultation", "^": "report"}.get(mark) or plain_type(short, kind, dept)
            avoid = avoid_districts(dept, short)
            for _ in range(3):
                place, district = ("", None)
                if rng.random() < 0.5:
                    for _try in range(20):
                        place, district = places.short()
                        if district not in avoid:
                            break
                    else:
                        place, district = "", None
                text = (rng.choice(["", "", "喂，", "你好，", "喂喂，"]) + place + short
                        + rng.choice(["", "", "。", "，快点", "，你们来看看"]))
                if urgent or "快点" not in text:
                    add(noise.spoken(text), type_, dept, district, "urgent" if urgent else "normal")
        for idea in lex["en_ideas"]:
            group += 1
            for _ in range(3):
                text, district = _en(rng, places, idea, rng.choice(EN_FRAMES["suggestion"]))
                add(text, "suggestion", dept, district, "normal", "en")
        for staff in lex["en_staff"]:
            group += 1
            avoid = avoid_districts(dept, staff)
            for _ in range(2):
                frame = rng.choice(EN_FRAMES["praise"])
                said = frame.replace("{s}", staff).replace("{y}", rng.choice(EN_PRAISE_DEEDS))
                text, district = _en(rng, places, "", said, avoid)
                add(text.replace(",  ", ", "), "praise", dept, district, "normal", "en")
            said = f"{staff} {rng.choice(EN_STAFF_COMPLAINTS)}"
            text, district = _en(rng, places, said, rng.choice(EN_FRAMES["complaint"]), avoid)
            add(text, "complaint", dept, district, "normal", "en")
    return rows


def main() -> None:
    rows = generate()
    out = sys.stdout
    out.write("# Composed by `python -m ticketing.intake.synth` from ticketing/intake/synth_lexicon.py (seed "
              f"{SEED}); do not edit by hand.\n")
    out.write("id\tlang\ttext\ttype\tdepartment\tdistrict\turgency\n")
    for r in rows:
        out.write("\t".join(r[c].replace("\t", " ") for c in ("id", "lang", "text", "type", "department", "district",
                                                                "urgency")) + "\n")


if __name__ == "__main__":
    main()
