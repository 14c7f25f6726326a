"""The present-danger families and the hard-case department families of scope.md (keywords.py
URGENT_FAMILIES, POLICY_DEPARTMENTS), each said in phrasings not taken from any labeled set."""
from __future__ import annotations

import re

import pytest

from ticketing.intake.keywords import (NOBODY_IN_DANGER, POLICY_DEPARTMENTS, URGENT_FAMILIES, compile_patterns,
                                       policy_department, urgent_cues)

FAMILY = {name: compile_patterns(patterns) for name, patterns in URGENT_FAMILIES.items()}


@pytest.mark.parametrize("family, text", [
    ("whole_building_outage", "our entire residential block has had no power since six"),
    ("whole_building_outage", "整个小区都停了水，从中午到现在"),
    ("junction_lights_out", "路口的红绿灯全部不亮了，车子乱成一团"),
    ("junction_lights_out", "all the traffic lights at the crossroads are dead"),
    ("missing_now", "我儿子中午出去玩到现在都没回家"),
    ("missing_now", "my daughter didn't come home from her piano lesson and her phone is off"),
    ("missing_now", "my grandfather has dementia and he wandered off after lunch"),
    ("vulnerable_alone", "my uncle lives alone and hasn't answered the door since yesterday"),
    ("vulnerable_alone", "隔壁独居的阿婆一直没接电话"),
    ("violence_now", "有人在撬我家的门，我躲在房间里"),
    ("violence_now", "someone is trying to break into our flat right now"),
    ("patient_on_power", "the power went off and my mother is on a home oxygen concentrator"),
    ("gas_smell", "厨房里一股臭鸡蛋味，是不是漏气了"),
    ("gas_smell", "洗了个澡，燃气热水器开着，我老婆头晕想吐"),
    ("falling_now", "大风把楼顶的广告牌吹得摇摇欲坠，下面是人行道"),
    ("falling_now", "the storm brought a big tree down across the road by the school"),
    ("gas_smell", "施工队把燃气管挖破了，嘶嘶在响"),
    ("flood_into_home", "the drain is backing up into our basement flat and the water is rising"),
    ("missing_now", "I lost my little girl at the night market, she is five"),
    ("missing_now", "有个三四岁的小孩一个人在路边哭，问他家在哪也说不清"),
    ("missing_now", "女儿放学没回来，电话也打不通"),
    ("whole_building_outage", "就我们这栋楼，从早上停到现在"),
    ("gas_smell", "the bedroom smells really strongly of gas from the heater"),
    ("vulnerable_alone", "the old lady next door lives alone, I heard her fall and call for help"),
    ("violence_now", "two men are fighting outside the bar, one has a knife"),
    ("flood_into_home", "下水道的水从地漏倒灌上来，卫生间全是水"),
    ("people_hurt_now", "an old man was just knocked down by a scooter and he's bleeding"),
    ("lift_people_inside", "the elevator stopped between floors and someone inside is banging"),
    ("fraud_in_progress", "对方还让我继续转钱，说是公安局的"),
])
def test_each_present_danger_family_is_urgent(family, text):
    assert urgent_cues(text.lower(), FAMILY[family]), (family, text)


@pytest.mark.parametrize("text", [
    "厂区附近晚上有股臭鸡蛋味，每天都这样",                 # an odour outside: environment, not a gas leak at home
    "the bus shelter was knocked down by a truck a month ago and still isn't fixed",   # past
    "老小区改造能不能把雨污分流也做了，每次下雨都倒灌",       # no present flooding named as now
    "the gas company cut off our gas for a check and didn't come back to turn it on",
    "万一整个小区停水了怎么办",                              # hypothetical
    "想问一下 万一 家里闻到煤气味 先关哪个阀门",               # a conditional before a pause still governs
    "燃气灶打不着火，不是漏气，没有味道",                      # failed ignition is no fire
    "水表在外面，冬天冻坏了，谁来换",                          # a frozen meter is no person freezing
    "昨天那个厂子着火，已经扑灭了，我想反映他们乱堆东西",       # over now
    "the underpass is flooded knee deep but nobody is stuck, cars are turning back",
    "the bar plays loud music and people shout outside every weekend",   # a habitual nuisance
])
def test_near_misses_of_the_families_are_not_urgent(text):
    assert not urgent_cues(text.lower(), [p for ps in FAMILY.values() for p in ps]), text


POLICY = [(d, re.compile(p, re.I)) for d, p in POLICY_DEPARTMENTS]


@pytest.mark.parametrize("text, department", [
    ("小区电梯最近老是抖，合格证都过期了，想请你们来查一查", "market-regulation"),
    ("the escalator in the mall keeps jerking and stopping", "market-regulation"),
    ("火车站门口有人在卖假文凭", "public-security"),
    ("someone is selling fake driving licences outside the bus station", "public-security"),
    ("我刚搬来，想问一下暂住登记在哪里办", "public-security"),
    ("how do I get a residence permit as a foreign teacher", "public-security"),
    ("培训学校老板拖欠我们三个月工资了，老师们都没拿到钱", "human-resources"),
    ("our employer hasn't paid us since October, we are teachers at a language school", "human-resources"),
    ("饭店吃完饭不给开发票，说要加税点", "tax"),
    ("现在是禁渔期，有人晚上在江里电鱼", "agriculture"),
    ("有人往河边的沟里倒了好几个化工桶", "environment"),
    ("隔壁厂里的冲床整夜都在响，我们根本睡不着", "environment"),
    ("半夜两点工地还在打桩，整个小区都醒了", "housing"),
    ("the construction site next door is banging all night", "housing"),
    ("楼下广场舞的音响太响了", "subdistrict-office"),
    ("my upstairs neighbour's bathroom leaks water into my ceiling and he won't fix it", "subdistrict-office"),
    ("楼下烧烤店的油烟都飘到我家里来了", "urban-management"),
    ("隔壁那栋楼有人在楼顶加盖了一层", "urban-management"),
    ("cars are parked on the sidewalk outside the school every morning", "traffic-police"),
    ("有人半夜把装修垃圾倒在河边的空地上", "urban-management"),
    ("路口天天有人烧纸钱，烟很大", "urban-management"),
    ("河里漂着好几头死猪", "agriculture"),
    ("台风要来了，我们村的老人什么时候转移", "emergency-management"),
    ("家里跳闸了，空开推不上去，邻居家有电", "power"),
    ("被猫抓了一下，狂犬疫苗哪里能打", "health"),
    ("楼下有个补习班周末偷偷上课", "education"),
    ("我的车牌被人偷了一块，去哪里补办", "traffic-police"),
    ("村里有人在老年活动室打麻将赌钱", None),   # gambling: REMIT_DEPARTMENTS, not a hard-case family
    ("cars park on the pavement outside the school every day", "traffic-police"),   # habitual: still the matter
    ("村里有人在基本农田上盖房子", "natural-resources"),
    ("someone is building a big house on the rice fields near our village", "natural-resources"),
    ("the construction site next door pile drives at midnight and we can't sleep", "housing"),
    ("桥洞下有个流浪汉好几天没吃东西了", "civil-affairs"),
    ("要不要拉电闸", None),                         # a breaker named as an action is no power fault
    ("家里养的羊要不要打疫苗", None),                # animals' vaccines are not health's
])
def test_a_hard_case_goes_to_the_department_the_policy_names(text, department):
    assert policy_department(text.lower(), POLICY) == department, text


def test_a_document_to_bring_is_not_a_registration_matter():
    """户口本 asked for as a document (an allowance, a marriage) is not a household-registration call."""
    assert policy_department("高龄补贴要带户口本吗", POLICY) is None


def test_tax_fraud_said_with_wages_is_tax_not_wage_arrears():
    text = "老板让我们拿现金发工资不走账，我觉得他在偷税"
    assert policy_department(text, POLICY) == "tax"


@pytest.mark.parametrize("text, department", [
    ("工地晚上十一点还在打桩，我们北仑这边吵得睡不着", "housing"),
    ("海曙这边工地半夜还在打桩，吵死了", "urban-management"),   # dispatch.yaml re-routes Haishu
])
def test_construction_noise_at_night_is_not_public_security(extractor, text, department):
    assert extractor.propose(text).department == department, text


@pytest.mark.parametrize("text, department", [
    ("宁海西店这边水漫上来了，我们一家人被困在二楼下不来", "emergency-management"),   # people caught in flood water
    ("our neighbour's e-bike caught fire in the corridor and the stairs are full of smoke", "emergency-management"),
    ("刚才路口一个骑电瓶车的被汽车撞了，人躺在地上不动", "traffic-police"),
    ("two men are fighting outside the bar with a broken bottle", "public-security"),
    ("骗子冒充我儿子的老师，要我转三万块，我现在在银行", "public-security"),
    ("桥洞下面有个老头冻得发抖，外面下着雪", "civil-affairs"),
    ("整栋楼停电了，电梯里还关着两个人", "power"),     # scope.md §3: the whole-building power cut is the main topic
    ("燃气热水器打不着火，燃气灶也点不着", None),        # failed ignition: no fire, no danger department
    ("空开推上去又跳下来，家里一半插座没电", None),       # a tripping breaker is no one jumping
])
def test_a_present_danger_goes_to_the_department_the_policy_names(text, department):
    from ticketing.intake.keywords import DANGER_DEPARTMENTS, danger_department

    compiled = [(d, re.compile(p, re.I)) for d, p in DANGER_DEPARTMENTS]
    assert danger_department(text.lower(), compiled) == department, text


@pytest.mark.parametrize("text, department", [
    ("镇海澥浦那边化工厂的机器晚上一直轰隆隆地响", "emergency-management"),   # industrial noise, Zhenhai (dispatch.yaml)
    ("余姚那边厂里机器整夜轰隆隆地响，睡不着", "environment"),
    ("被流浪狗咬了一口，狂犬疫苗去哪里打", "health"),                        # a stray dog is no homeless person
])
def test_the_dispatch_catalogue_reroutes_a_hard_case_by_district(extractor, text, department):
    assert extractor.propose(text).department == department, text


@pytest.mark.parametrize("text, department", [
    ("海曙这边楼下饭店的油烟直接往我家里灌", "subdistrict-office"),          # cooking fumes, Haishu (dispatch.yaml)
    ("慈溪横河那边有人在菜地上盖了个三层楼", "natural-resources"),           # rural building in a county (dispatch.yaml)
    ("甬江这边有人把装修垃圾直接倒在河边空地上", "urban-management"),       # dumped debris is not garbage collection (Jiangbei)
    ("村里有人在老年活动室打麻将赌钱，输赢好几万", "public-security"),
    ("我们公司食堂中午吃了以后十几个人又吐又拉", "market-regulation"),
])
def test_hard_cases_end_at_the_department_dispatch_names(extractor, text, department):
    assert extractor.propose(text).department == department, text


@pytest.mark.parametrize("text, expected", [
    ("社保窗口那个小姑娘很耐心，一样一样教我填表", "praise"),
    ("出入境那边办事真的快，半个钟头就好了，工作人员也很客气", "praise"),
    ("the nurse at the night clinic was so patient with my grandmother", "praise"),
    ("公交司机态度好差，我问一句他就骂人", None),                      # 态度好差 is a grievance
    ("税务局的工作人员让我跑了好几趟都没办成", None),
    ("the officer was very friendly but the form is still not processed", None),
])
def test_praise_said_without_a_praise_word(text, expected):
    """scope.md §1.4: staff named and what they did well, no grievance in the call, is praise."""
    from ticketing.intake.keywords import explicit_type

    assert explicit_type(text.lower(), False, "complaint") == expected, text


def test_an_outage_again_without_notice_in_english_is_a_complaint():
    from ticketing.intake.keywords import explicit_type

    text = "no water again in our building, third time this month and no notice at all"
    assert explicit_type(text, False, "help") == "complaint"


@pytest.mark.parametrize("text", [
    "涵洞积水到小腿了，车子都在掉头，没人被困",
    "桥洞下面积水到膝盖，人倒是没事",
    "the underpass is flooded knee deep but nobody is stuck",
    "a manhole cover is broken, no one has fallen in yet",
])
def test_a_call_saying_nobody_is_in_danger_is_not_made_urgent_by_the_model(extractor, text):
    """scope.md §4: ponding with nobody trapped is normal; the model's guess yields to the denial."""
    assert NOBODY_IN_DANGER.search(text.lower()), text
    assert extractor.propose(text).urgency == "normal", text


@pytest.mark.parametrize("text, department", [
    ("建议工地晚上十点以后不要再打桩了，北仑这边吵得睡不着", "housing"),
    ("建议城管管管楼下烧烤店的油烟，鄞州这边", "urban-management"),
])
def test_a_suggestion_goes_where_its_matter_goes(extractor, text, department):
    p = extractor.propose(text)
    assert p.type == "suggestion" and p.department == department, (p.type, p.department)


@pytest.mark.parametrize("text, expected", [
    ("it would be great if the library opened on Monday evenings", "suggestion"),
    ("the metro app should have an English version", "suggestion"),
    ("why not add a bus stop at the new hospital", "suggestion"),
    ("建议搞个老年食堂，老人吃饭方便点", "suggestion"),
    ("能不能搞个暑假托管班，双职工家里没人带", "suggestion"),
    ("the road should be fixed by now but it has been weeks", None),   # a grievance put as 'should'
])
def test_suggestions_said_the_ways_callers_say_them(text, expected):
    from ticketing.intake.keywords import SUGGESTION_EXPLICIT

    assert bool(SUGGESTION_EXPLICIT.search(text.lower())) == (expected == "suggestion"), text


# The scope.md §4 situations as further hands say them (E18i): phrasings written for these tests.
@pytest.mark.parametrize("family, text", [
    ("area_outage", "我们村里全都停电了 老人小孩都在家"),
    ("area_outage", "这一片从中午开始就断水了 一条街的店都开不了"),
    ("area_outage", "there's no hot water and no water at all in the whole dorm since this morning"),
    ("self_harm_now", "有个小伙子翻到桥栏杆外面去了 在哭"),
    ("self_harm_now", "my roommate says she wants to end it and won't open the door"),
    ("violence_now_more", "楼下两个人拿着酒瓶在砸人"),
    ("violence_now_more", "a man is beating a woman in the car park"),
    ("trapped_now", "我们三个被关在冷库里面了 门从外面锁了"),
    ("trapped_now", "the lift dropped two floors and we are still inside"),
    ("in_the_water", "公园湖边有个小孩掉进湖里了"),
    ("in_the_water", "someone slipped into the canal and is still in the water"),
    ("fire_now", "隔壁家窗户里在冒黑烟 听到有人喊"),
    ("fire_now", "the scooter in the stairwell is burning and the smoke is coming up"),
    ("gas_more", "楼道里一股液化气那种味道 好几层都有"),
    ("gas_more", "the kitchen smells a bit like gas and I can hear a hiss near the meter"),
    ("flood_into_home_more", "雨水从门缝里往店里灌 地上已经一层水"),
    ("flood_into_home_more", "our basement is filling with water fast"),
    ("collapse_now", "后面那堵墙在往外鼓 砖头一块块掉"),
    ("collapse_now", "the slope behind the school is sliding onto the road"),
    ("vulnerable_more", "我外婆一个人在家 电话打了一上午没人接"),
    ("vulnerable_more", "my neighbour fell in the bathroom and can't get up"),
    ("dependent_on_power", "家里停电了 我爸在家做腹透 机器停了"),
    ("chemical_now", "路口一辆槽罐车侧翻了 地上都是液体"),
    ("sick_after_meal", "单位食堂吃完午饭 好多同事上吐下泻"),
    ("road_danger_now", "高架上有辆车在逆行 好几辆车急刹车"),
    ("live_wire_more", "电线被风刮下来了 掉在人行道上"),
    ("live_wire_more", "a power line came down in the storm and is lying across the lane"),
])
def test_each_further_present_danger_family_is_urgent(family, text):
    assert urgent_cues(text.lower(), FAMILY[family]), (family, text)


@pytest.mark.parametrize("text", [
    "我家停电了，就我们一家，邻居都有电",                       # one household
    "明天整个小区要停水，想问一下几点开始",                      # a planned outage: future
    "工地半夜十二点还在打桩，吵得睡不着",                        # 还在打 is pile driving, not a fight
    "工厂烟囱冒黄烟，天天这样，味道很冲",                        # emissions, not a fire
    "外卖电动车天天逆行，我要举报",                              # a habitual offence, not a wrong-way car now
    "楼下有人在烧纸，烟有点大",                                  # open burning
    "水龙头关不紧，一直在漏",                                    # a dripping tap is no gas leak
    "电线被树枝压着，没冒火，就是晃得厉害",                      # denied inside the match
    "我想问问家里老人要是联系不上，社区能不能上门看看",          # a conditional inside the match
    "I lost my passport, which police station do I go to",
    "someone is burning leaves behind the school again",
    "路边的指示牌被风吹倒了，好几天了没人扶",
])
def test_near_misses_of_the_further_families_are_not_urgent(text):
    assert not urgent_cues(text.lower(), [p for ps in FAMILY.values() for p in ps]), text


@pytest.mark.parametrize("text", [
    "你好我想问一下之前报修的路灯修了没有另外现在我们整栋楼都停水了一滴水都没有",   # 之前 far before: not governing
    "没办法了 家里进水了 水已经到脚踝",                                            # 没办法 denies nothing
    "hello I don't know who to call there is smoke coming out of the flat next door",  # "don't know" is no denial
    "真可怕 楼道里全是烟",                                                          # 可怕 is no fear of the future
])
def test_a_cancel_word_elsewhere_in_a_long_call_does_not_cancel_a_present_danger(text):
    from ticketing.intake.keywords import URGENT_PATTERNS

    assert urgent_cues(text.lower(), compile_patterns(URGENT_PATTERNS)), text
