"""scope.md §1.5 request types: the rules keywords.explicit_type applies over the classifier for
who needs someone to come (help) and what is a public fault pointed out (report).  Phrasings here
are written for these tests, not taken from any tuning set."""
from __future__ import annotations

import pytest

from ticketing.intake.keywords import (URGENT_PATTERNS, compile_patterns, explicit_type, person_in_danger,
                                       urgent_cues)

PATTERNS = compile_patterns(URGENT_PATTERNS)


def _type(text: str, predicted: str) -> str | None:
    low = text.lower()
    return explicit_type(low, bool(urgent_cues(low, PATTERNS)), predicted)


@pytest.mark.parametrize("text", [
    "仓库那边烧起来了 还有两个人在里面没出来",
    "对面楼三楼窗口在冒烟 里面好像有人在喊",
    "公交站台边上一个阿姨晕倒了 叫她也没反应",
    "我爸一个人住在乡下 从早上到现在电话都没人接 敲门也不开",
    "桥上有个小伙子坐在栏杆上 看样子想跳",
    "there's a man lying on the cycle path, not moving, I think he's unconscious",
    "smoke is pouring out of the workshop and two of the welders are still inside",
])
def test_a_person_in_danger_now_makes_the_call_help(text):
    """Help: someone (a stranger too) needs someone to come now — the classifier's report or complaint
    is overruled, and 没人接 about the old man's phone is no grievance about the hotline."""
    assert person_in_danger(text.lower()), text
    assert _type(text, "report") == "help", text
    assert _type(text, "complaint") == "help", text


@pytest.mark.parametrize("text", [
    "上个月仓库着火的时候还有人在里面 现在想问一下赔偿找谁",         # past
    "万一楼里着火了 里面还有人出不来怎么办",                        # hypothetical
    "厂里的工人还在里面抽烟 旁边就是油漆桶",                        # people inside, not in danger
    "没有人晕倒 就是食堂的菜有股馊味",                              # denied
    "nobody is inside, the empty shed behind the school is smoking",
])
def test_people_mentioned_but_not_in_danger_now_do_not_make_help(text):
    """Past, feared, denied or harmless mentions of people are no person in danger now."""
    assert not person_in_danger(text.lower()), text


@pytest.mark.parametrize("text", [
    "小区门口那个配电箱在冒黑烟 噼里啪啦的",
    "路口那根电线杆上的线掉下来了 在地上闪火花",
    "the transformer on the corner of the street is sparking and smoking",
])
def test_a_power_fault_in_a_public_place_is_a_report(text):
    """Report: a hazard in the power network's kit outside anyone's home, nobody waiting to be rescued."""
    assert _type(text, "help") == "report", text


@pytest.mark.parametrize("text", [
    "我家门口的电表箱在冒烟 家里还有老人",                          # at home: help
    "配电房烧了 我们整栋楼都停电了 电梯也停了",                      # a whole building's outage
    "路边电线掉下来了 一个小孩被电到倒在地上了",                    # a person hurt
])
def test_a_power_fault_at_home_or_with_people_hurt_stays_help(text):
    """The same hazard at home, a building cut off, or a person hurt by it: help stays."""
    assert _type(text, "help") in (None, "help"), text


@pytest.mark.parametrize("text", [
    "我在写字楼的电梯里 关了快二十分钟了 按铃没人理",
    "hi, we are in the lift at the library and it stopped between floors, it won't open",
    "我儿子下午去同学家 到现在还没回来 电话也关机",
    "我奶奶有点糊涂 早上出门到现在都没回 我们到处找了",
])
def test_people_trapped_in_a_lift_or_missing_are_help(text):
    """scope.md §1.5: people trapped in a lift are always help; a child or confused elderly person missing now is help."""
    assert _type(text, "complaint") == "help", text


def test_an_alone_elderly_person_not_answering_is_help_not_a_grievance_about_phones():
    """没人接 is the REPEATED_GRIEVANCE word for an unanswered hotline; said of a mother living alone, it is help."""
    text = "我外公一个人住 从中午到现在电话一直没人接 我赶不过去 能不能请人去敲个门"
    assert _type(text, "help") in (None, "help")    # the classifier's help is kept, not turned into a complaint
    assert _type(text, "complaint") == "help"


@pytest.mark.parametrize("text, type_", [
    ("物业费怎么突然这么高 一平方涨了五毛也没开业主大会", "complaint"),
    ("我们组的征地补偿为什么没有我家 别人家都发了", "complaint"),
    ("the parking fee at the hospital, why is it so high now, it doubled", "complaint"),
    ("我想问一下 电费怎么突然这么高 是不是阶梯电价的原因", None),       # asks for information: kept
    ("老小区改造要不要我们出钱", None),                                  # a plain question
])
def test_a_grievance_put_as_a_question_is_a_complaint(text, type_):
    """scope.md §1.5 step 4: the caller aggrieved by a price, a share or unfair treatment, asked as a question."""
    assert _type(text, "consultation") == type_, text


@pytest.mark.parametrize("text, type_", [
    ("the lady at the tax office went through every line of my return so patiently", "praise"),
    ("派出所的民警帮我把丢的钱包找回来了 处理得很快", "praise"),
    ("社区医生天天上门给我妈换药 比亲戚还上心", "praise"),
    ("the pharmacist was really great but the clinic still refuses my insurance card", None),   # a grievance in the call
    ("我们住在楼上心里怕怕的 楼下小厂堆了好多油漆桶", None),                                    # 楼上心 is no 上心
])
def test_praise_said_as_its_outcome_is_praise(text, type_):
    """scope.md §1.4: thanks said without 表扬/感谢 (really grateful, 处理得很快, 很上心) is praise unless the call also complains."""
    assert _type(text, "complaint") == type_, text


@pytest.mark.parametrize("text", [
    "我外公早上出去散步找不到了 后来自己回来了 想问问有没有防走失的手环可以申请",
    "my dad didn't pick up all morning but he called back, he was fine, is there a daily call service for old people",
])
def test_a_danger_over_before_the_call_then_a_question_is_a_consultation(text):
    """scope.md §4 already over and §1.5 step 5: what is left is a question."""
    assert _type(text, "help") == "consultation", text


@pytest.mark.parametrize("text, type_", [
    ("我家热水器坏了报修到现在好几天了 师傅一直没来", "complaint"),
    ("物业说下午来修水管 电工也不来 水管工也不来 到晚上了", "complaint"),
    ("电梯里关着我妈 物业说马上来 到现在还没来", None),     # someone trapped now: help stays
])
def test_a_repair_promised_and_not_coming_is_a_complaint(text, type_):
    """scope.md §1.5 step 4: 修得慢 is a complaint, unless someone is in danger now."""
    assert _type(text, "help") == type_, text


@pytest.mark.parametrize("text, type_", [
    ("商场的扶梯一直在抖 没人受伤 但是看着吓人", "report"),
    ("the gate of the car park barrier keeps dropping early, nobody was hurt so far", "report"),
    ("电梯卡在两层中间 里面关着两个人 没人受伤", None),        # people trapped now: help stays
])
def test_a_hazard_told_with_nobody_in_danger_is_a_report(text, type_):
    """scope.md §1.5 step 3: 没人被困 / nobody hurt — a hazard pointed out, nobody waiting to be rescued."""
    assert _type(text, "help") == type_, text
