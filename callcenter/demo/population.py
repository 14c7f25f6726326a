"""Who calls the demo hotline, when, and what they do (pure: stdlib only, seeded).

The arrival rate follows a daily curve (the 12345 pattern: quiet at night,
peaks mid-morning and mid-afternoon); each caller gets a plan — keys pressed
in the IVR, patience in the queue, talk time, what they say, and how they
will answer the satisfaction callback.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

#: share of the configured hourly rate, by local hour of day (mean ≈ 1 over 08-18)
DAILY_CURVE = (0.05, 0.03, 0.02, 0.02, 0.03, 0.08, 0.2, 0.5, 0.9, 1.3, 1.4, 1.2,
               0.8, 1.0, 1.3, 1.3, 1.1, 0.9, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)

#: (what the caller says, the category an agent settles on, district) — the
#: agent keeps what intake proposes and fills only what it left out.
UTTERANCES = (
    ("我家楼下的路灯坏了好几天了，在海曙区鼓楼街道", "road-damage", "haishu"),
    ("自来水管爆了，水一直往外冒，在江北区", "water-pipe-leak", "jiangbei"),
    ("小区门口有人占道经营，噪音很大，在鄞州区", "street-vending", "yinzhou"),
    ("我想咨询一下医保报销的政策", "insurance-reimbursement", "haishu"),
    ("燃气有泄漏的味道，很危险，在北仑区", "gas-leak", "beilun"),
    ("公交车司机服务态度差，我要投诉", "bus-service", "jiangbei"),
    ("表扬一下社区工作人员，服务很好", "community-service", "zhenhai"),
    ("马路上有个大坑，很危险，在鄞州区", "road-damage", "yinzhou"),
    ("晚上工地施工噪音太吵了，睡不着觉", "construction-noise", "haishu"),
    ("小区停电了，整栋楼都没电", "power-outage", "jiangbei"),
)

#: what English callers say when they describe the problem by voice (``--speech``)
SPOKEN_EN = (
    ("There is a gas leak in my building on Zhongshan Road. Please send someone right away.", "gas-leak",
     "haishu"),
    ("The street light outside my house on Baisha Road has been broken for a week.", "road-damage", "jiangbei"),
    ("The water pipe in our kitchen burst and water is everywhere. Please send someone.", "water-pipe-leak",
     "yinzhou"),
)

#: IVR key scripts (hotline.yaml): language 1 = 中文, 2 = English; then the main menu
IVR_CHOICES = (
    ("urgent", ("1", "1"), 0.15),      # urgent water/power/gas fault → urgent queue
    ("new", ("1", "3"), 0.45),         # new request → general queue
    ("operator", ("1", "0"), 0.10),    # operator → general queue
    ("english", ("2", "3"), 0.05),     # English, new request
    ("lookup", ("1", "2"), 0.15),      # status lookup by order number, then leaves
    ("hangup", (), 0.10),              # hangs up during the greeting
)

#: satisfaction-call behaviour: (PSTN behaviour, key pressed, share)
SURVEY_ANSWERS = (
    ("answer", "1", 0.55),    # 满意 satisfied
    ("answer", "2", 0.15),    # 基本满意 basically satisfied
    ("answer", "3", 0.15),    # 不满意 dissatisfied → reopened
    ("noanswer", "", 0.15),   # unreachable
)


@dataclass(frozen=True)
class CallerPlan:
    """One synthetic citizen's call."""

    number: str
    choice: str
    keys: tuple = ()
    patience: float | None = None
    hangup_after: float | None = None
    talk_seconds: float = 60.0
    utterance: str = ""
    category: str = ""
    district: str = ""
    survey_behaviour: str = "answer"
    survey_key: str = "1"
    extra: dict = field(default_factory=dict)

    @property
    def exten(self) -> str:
        return "12345"


def curve_factor(hour: int) -> float:
    """The daily-curve share for a local hour (0-23)."""
    return DAILY_CURVE[int(hour) % 24]


def next_gap(rnd: random.Random, rate_per_hour: float, hour: int) -> float:
    """Seconds (simulated) until the next arrival: Poisson at ``rate × curve(hour)``."""
    rate = max(rate_per_hour * curve_factor(hour), 1e-6)
    return rnd.expovariate(rate / 3600.0)


def _pick(rnd: random.Random, table):
    roll, acc = rnd.random(), 0.0
    for row in table:
        acc += row[-1]
        if roll < acc:
            return row
    return table[-1]


def plan_caller(rnd: random.Random, seq: int, *, patience_mean: float = 120.0, talk_mean: float = 90.0,
                lookup_number: str | None = None, speech: bool = False) -> CallerPlan:
    """The plan of the ``seq``-th caller (numbers are unique per run: 139 + 8 digits).

    With ``speech``, half the callers with a new request press 9 and say it instead (``describe``):
    the IVR transcribes them and routes by what they said; a caller it does not understand hears
    the main menu again and presses 3."""
    choice, keys, _ = _pick(rnd, IVR_CHOICES)
    text, category, district = UTTERANCES[rnd.randrange(len(UTTERANCES))]
    if speech and choice in ("new", "english") and rnd.random() < 0.5:
        if choice == "english":
            text, category, district = SPOKEN_EN[rnd.randrange(len(SPOKEN_EN))]
        choice, keys = "describe", (keys[0], "9", "3")
    behaviour, key, _ = _pick(rnd, SURVEY_ANSWERS)
    keys = list(keys)
    hangup_after = None
    if choice == "lookup":
        keys.append((lookup_number or "0000000000000") + "#")
        keys.append("")      # hears the status, then no further choice
        hangup_after = 150.0  # hears the whole read-back and the closing menu (real prompt lengths), then the goodbye
    elif choice == "hangup":
        hangup_after = rnd.uniform(2.0, 6.0)
    return CallerPlan(
        number=f"139{seq % 10**8:08d}", choice=choice, keys=tuple(keys),
        patience=max(15.0, rnd.expovariate(1 / patience_mean)), hangup_after=hangup_after,
        talk_seconds=20.0 + rnd.expovariate(1 / max(1.0, talk_mean - 20.0)),
        utterance=text, category=category, district=district,
        survey_behaviour=behaviour, survey_key=key)


@dataclass(frozen=True)
class DepartmentFate:
    """How a department will treat one order (decided once, from the seed and its number)."""

    ack_after: float        # simulated seconds after dispatch
    returns: bool           # 退单: sends it back as not its duty (once)
    reply_after: float      # seconds after acknowledging


def department_fate(seed: int, number: str, *, late_share: float = 0.2, return_share: float = 0.1) -> DepartmentFate:
    """Prompt (5-25 min) or late (70-150 min) acknowledgement, 10 % returned, replies in 15-60 min."""
    rnd = random.Random(f"{seed}:{number}")
    late = rnd.random() < late_share
    ack = rnd.uniform(70, 150) * 60 if late else rnd.uniform(5, 25) * 60
    return DepartmentFate(ack_after=ack, returns=rnd.random() < return_share,
                          reply_after=rnd.uniform(15, 60) * 60)
