"""Intake follows the written scope and urgency policy (ticketing/taxonomy/scope.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ticketing.intake.keywords import URGENT_PATTERNS, compile_patterns, urgent_cues

SCOPE = Path(__file__).resolve().parents[2] / "ticketing" / "taxonomy" / "scope.md"
PATTERNS = compile_patterns(URGENT_PATTERNS)


def test_scope_policy_names_every_department_and_hard_case_in_both_languages():
    """The written policy covers each taxonomy department and each hard case, in Chinese and English."""
    from ticketing.taxonomy import load_taxonomy

    text = SCOPE.read_text("utf-8")
    for code in load_taxonomy().departments:
        assert f"| {code} " in text, code
    for zh, en in (("主诉决定", "main topic decides"), ("住宅电梯困人", "residential lift"),
                   ("道路、涵洞积水", "underpass flooding"), ("违章建筑", "illegal building"),
                   ("假货", "fake goods"), ("工地欠薪", "building site"), ("表扬", "Praise"),
                   ("否定", "negated"), ("假设", "hypothetical"), ("整栋楼", "whole building")):
        assert zh in text and en in text, (zh, en)


@pytest.mark.parametrize("text", [
    "厨房里一股很浓的煤气味，我不敢开灯",
    "我们整栋楼都停水了，从早上到现在一滴水都没有",
    "整个小区没有水了，老人小孩都没法做饭",
    "我们这一整栋从昨天晚上开始没电，冰箱都停了",
    "The whole building has had no water since this morning",
    "电梯卡在十二楼和十三楼中间，里面还有个老人",
    "楼下电线掉下来了，还在冒火花",
    "There is a strong smell of gas in the stairwell",
    "水已经进到家里了，一楼全淹了",
    "我奶奶一个人住，打了一天电话都联系不上",
])
def test_present_danger_is_urgent(extractor, text):
    """A present risk to life, safety or basic living is urgent (scope.md §4), including a whole
    building without water (not only without power)."""
    p = extractor.propose(text)
    assert p.urgency == "urgent", (text, p.urgency, p.type, p.department)


@pytest.mark.parametrize("text", [
    "没有闻到煤气味，就是想问一下燃气费怎么交",
    "我们家没有停电，是隔壁单元停电，想问问什么时候恢复",
    "没有人被困，就是电梯有点异响，想让维保来看看",
    "There is no smell of gas, I just want to ask about my bill",
])
def test_negated_danger_is_not_urgent(extractor, text):
    """A danger word the caller denies (没有闻到煤气味, no smell of gas) does not make the call urgent."""
    assert extractor.propose(text).urgency == "normal", text


@pytest.mark.parametrize("text", [
    "楼道里堆了好多杂物，万一着火了怎么办，能不能让物业清一下",
    "如果燃气管道漏气了应该打哪个电话",
    "我担心以后下大雨地下车库会进水，建议物业装个挡水板",
    "What if there is a fire, the fire exit in our building is always blocked",
    "上次停电已经修好了，我就是想问一下电费怎么这么高",
])
def test_hypothetical_or_past_danger_is_not_urgent(extractor, text):
    """Feared, hypothetical or past dangers (万一着火, 如果漏气, 上次停电) are normal: dispatched, not rushed."""
    assert extractor.propose(text).urgency == "normal", text


def test_danger_is_judged_per_clause():
    """A negation in one clause does not cancel a danger told in the next."""
    assert urgent_cues("不是我家的问题，楼道里有很重的煤气味", PATTERNS)
    assert not urgent_cues("楼道里没有煤气味", PATTERNS)
    assert not urgent_cues("万一着火", PATTERNS)


def test_one_household_short_outage_is_not_urgent(extractor):
    """One household's short inconvenience is normal; the whole building is urgent."""
    assert extractor.propose("我家停水两个小时了，想问一下什么时候来水").urgency == "normal"
    assert extractor.propose("我们整栋楼停水两个小时了，想问一下什么时候来水").urgency == "urgent"


@pytest.mark.parametrize("text, department, urgency", [
    # two topics: the main one decides (a question for another department follows)
    ("我们小区门口的路灯坏了一个礼拜了，麻烦派人修一下，对了顺便问一下社保卡丢了怎么补", "urban-management", "normal"),
    # a complaint about a department's own service goes to that department
    ("我要投诉医保窗口的工作人员，态度很差，让我跑了三趟都没办好", "medical-insurance", "normal"),
    ("派出所户籍窗口的民警办事推三阻四，我要投诉", "public-security", "normal"),
    # people trapped in a residential lift vs a broken lift the property company does not fix
    ("救命，我们被困在小区电梯里了，电梯卡在八楼不动了", "market-regulation", "urgent"),
    ("我们楼的电梯坏了一个礼拜了，物业一直不修，老人上下楼太难了", "housing", "normal"),
    # road/underpass flooding: ponding is drainage; people in the water need rescue
    ("下了一夜雨，桥洞下面积水很深，车子都绕着走", "urban-management", "normal"),
    ("下穿隧道里水涨得很快，有辆车困在里面，人还在车上", "emergency-management", "urgent"),
    # illegal building: urban-management in town; building on farmland is natural resources
    ("我要举报，隔壁楼顶在偷偷加盖一层，违章建筑", "urban-management", "normal"),
    ("村里有人占用基本农田建厂房，我要举报", "natural-resources", "normal"),
    # fake goods
    ("商场里有家店在卖假冒的名牌包，我要举报", "market-regulation", "normal"),
    # wage arrears on a building site are labour inspection, not housing
    ("我在工地上干了大半年，包工头拖欠工钱不给，十几个人都没拿到", "human-resources", "normal"),
    # praise for staff goes to their department
    ("我要表扬燃气公司的维修师傅，半夜来帮我们修好了，非常感谢", "gas", "normal"),
    ("想表扬一下交警大队的民警，上次下大雨在路口指挥交通，辛苦了", "traffic-police", "normal"),
])
def test_hard_cases_follow_the_scope_policy(extractor, text, department, urgency):
    """Each hard case of scope.md §3 is dispatched and graded as the policy says."""
    p = extractor.propose(text)
    assert (p.department, p.urgency) == (department, urgency), (text, p.department, p.urgency, p.type)


@pytest.mark.parametrize("text, type_", [
    ("我要投诉，楼下饭店油烟天天往我家窗户里灌，说了好几次都不改", "complaint"),
    ("路边那排路灯晚上都不亮，你们派人看一下", "report"),
    ("救命，我被困在电梯里了", "help"),
    ("请问一下居住证怎么办理，要带什么材料", "consultation"),
    ("我建议在学校门口装个红绿灯", "suggestion"),
    ("谢谢你们供电所的师傅，冒雨来抢修", "praise"),
])
def test_request_types_follow_the_policy(extractor, text, type_):
    """Types per scope.md §1.5: a blamed grievance is a complaint, a public fault seen is a report, a person
    needing help now is help."""
    assert extractor.propose(text).type == type_, text


@pytest.mark.parametrize("text, type_", [
    # praise said as praise wins over the words of the danger or grievance it tells of
    ("我打过来不是投诉哈 是想表扬 上个礼拜变压器烧掉 供电公司连夜抢修 早上就来电了", "praise"),
    ("上次我打你们电话投诉那个装修公司 市场监管的小姑娘帮我调解 钱全部退回来了 谢谢她", "praise"),
    ("I just want to say thank you to a bus driver who kept my backpack for me", "praise"),
    # a suggestion offered is a suggestion, whatever fault it is about
    ("我想建议自来水公司那个水费单上写清楚阶梯水价是怎么算的 现在看不懂", "suggestion"),
    ("Hi, just a suggestion, the bus stops are only in Chinese, could you add English names?", "suggestion"),
    ("阿拉小区门口格条路，夜到黑漆漆的，装几盏路灯好伐", "suggestion"),
    ("希望物业每个月把收支贴在公告栏里", "suggestion"),
    ("The community grid worker checks on my grandma every week, we are so grateful", "praise"),
    # announced: 我举报 is a report, 我要投诉 a complaint
    ("我举报 药行街那边有个药店 处方药不要处方随便卖", "report"),
    # a person in danger now who needs someone to come is help, not a report of the hazard
    ("喂 石碶这边雨太大了 下水道的水往阿拉店里倒灌进来 已经漫到脚踝了", "help"),
    ("喂 我们这边有个老人家倒在路边 旁边没人 头上在流血 我不敢动他", "help"),
])
def test_an_explicit_request_type_overrules_the_classifier(extractor, text, type_):
    """scope.md §1.5: what the caller says the call is (表扬, 建议, 举报) or a person in danger now decides the type."""
    assert extractor.propose(text).type == type_, text


@pytest.mark.parametrize("text, type_", [
    ("怎么又停水了啊 我们整个小区从早上到现在一滴水都没有 一个月停三次了 每次都不通知", "complaint"),
    ("西坞这边刚才刮大风，一棵大樟树倒在马路中间，车子过不去了", "report"),
    ("我不是表扬你们 我是要投诉 师傅修了三次都没修好", "complaint"),
    ("喂你好 退税申请了三个月还没到账 希望有关部门尽快处理", "complaint"),   # 希望…尽快处理 asks for action
])
def test_explicit_type_rules_leave_complaints_and_public_hazards_alone(text, type_):
    """A repeated outage told with blame stays a complaint; a fallen tree in the road stays a report
    (nobody to rescue); a negated praise is no praise."""
    from ticketing.intake.keywords import explicit_type

    predicted = "report" if type_ == "report" else "complaint"
    danger = bool(urgent_cues(text.lower(), PATTERNS))
    assert explicit_type(text.lower(), danger, predicted) in (None, type_), text


@pytest.mark.parametrize("text", [
    "我婆婆有点老年痴呆 今天早上从家里出去到现在没回来 手机也没带",
    "我家老头子在家里用呼吸机的 现在突然停电了 机子电池快没电了",
    "对门那个阿婆一个人住的 两天没看到她出门了 敲门也没人应 电话也打不通",
    "我小孩四岁 在菜场门口一转身就不见了 找了半个钟头了",
    "钥匙锁在车里了 我儿子一岁多在后座上 太阳晒着 车门打不开",
    "我老公喝了酒在家里砸东西 还打我 我现在躲在卫生间里",
    "有个人打电话讲我涉嫌洗钱 叫我把钱转到安全账户 我已经在柜台上了",
    "电梯关住了 电梯关住了 我在里面",
    "我们中午吃完饭有五六个小朋友在吐 还有的发烧",
    "my daughter she is six we were at the night market and i can't find her",
    "a transformer box on the street is smoking and there's a burning smell",
    "霞浦这边昨天停了一天电 今天又停 整条街的店都开不了门",
    "我老公喝醉了在家里动手打人",
    "幼儿园好多孩子吃了午饭以后肚子疼呕吐",
    "化工厂冒出黄烟 附近的人都咳嗽",
    "山坡上的石头滚下来砸到了房子",
    "象山石浦这边台风把一条渔船吹翻了，船上还有两个人没上来",
    "I've just sent fifty thousand to someone who said he was from the bank and now he wants more",
])
def test_more_present_dangers_are_urgent_by_rule(text):
    """People missing, alone and unanswered, attacked, poisoned together, trapped; a patient on a
    machine without power; a scam transfer under way; a whole street without power (scope.md §4)."""
    assert urgent_cues(text.lower(), PATTERNS), text


@pytest.mark.parametrize("text", [
    "我们小区的电梯老是抖 上个月还困过人的 当时救出来了 现在物业说没问题",   # past, inside the matched words
    "车间里堆了好多油漆桶 灭火器都是过期的 没着火啊 就是怕出事",            # the fire is denied
    "someone has been burning rubbish, lots of smoke, it's not a fire emergency just annoying",
    "我刚刚被一辆车追尾了 人没事 就是车屁股撞瘪了",                          # an accident, nobody hurt
    "前几天有人被困在电梯里半个小时了，现在已经没事了，可是到现在也没人来查原因",  # over now
    "听说别的地方整个小区停电了家里老人在吸氧，我们这边会不会也这样",          # heard of, elsewhere
    "I was stuck in a shopping centre lift for twenty minutes last month and nobody apologised",
    "卫生院的医生上班时间找不到人",                                          # 找不到人: staff not at work
    "Someone is stealing water from the fire hydrant on Tianan Road",
])
def test_denied_past_and_harmless_mentions_are_not_urgent_by_rule(text):
    assert not urgent_cues(text.lower(), PATTERNS), text


def test_a_pause_in_recognised_speech_ends_a_clause():
    """ASR text has spaces for pauses, no commas: a negation in one spoken clause does not reach the next."""
    assert urgent_cues("我家没有停水 楼道里有很重的煤气味", PATTERNS)
    assert not urgent_cues("楼道里没有煤气味 就是想问问燃气费", PATTERNS)


@pytest.mark.parametrize("text, department", [
    ("喂 我家楼下电瓶车烧起来了 烟往楼上冒 楼道里全是烟 我们在六楼下不去", "emergency-management"),
    ("一棵大树倒下来 把电线压断了 电线耷拉在马路上 还在冒火星", "power"),
    ("马路边的变电箱着火了", "power"),
    ("饭店后厨的液化气罐着火了", "gas"),
    ("有个工人爬到塔吊上面 说不给工资就跳下来 现在人还在上面", "public-security"),
    ("我家孩子放学没回来 已经两个钟头了", "public-security"),
    ("有个老头子睡在地上 就穿一件单衣 今天零下两度 叫他也不太应", "civil-affairs"),
    ("一辆小车撞上了电瓶车 电瓶车上的人飞出去了 躺着不动", "traffic-police"),
    ("救命 电梯卡在八楼了 我们被困在里面", "market-regulation"),
    ("a power cable fell down across the pavement and it's sparking when the wind moves it", "power"),
])
def test_a_present_danger_goes_to_the_department_the_policy_names(extractor, text, department):
    """scope.md §3: fire → emergency management, sparking wires and burning boxes → power, a gas fire → gas,
    a person about to jump, a child missing → public security, someone freezing outside → civil affairs,
    an accident with someone hurt → traffic police, people in a lift → market regulation."""
    assert extractor.propose(text).department == department, text


@pytest.mark.parametrize("text", [
    "上次电瓶车着火的事 物业到现在也没给个说法",            # past
    "楼道里堆了好多电瓶车 万一着火怎么办",                  # feared
    "没有着火 就是楼道里电瓶车太多了",                      # denied
])
def test_a_past_feared_or_denied_danger_does_not_pick_the_department(text):
    import re

    from ticketing.intake.keywords import DANGER_DEPARTMENTS, danger_department

    compiled = [(d, re.compile(p, re.I)) for d, p in DANGER_DEPARTMENTS]
    assert danger_department(text, compiled) is None, text


@pytest.mark.parametrize("text", [
    "那个我个税app上申请退税 显示审核中一个多月了 这个正常吗",
    "我是租房的 房东不退押金 讲我墙上钉了钉子 押金三千块 这个找谁",
    "我弟弟是智力残疾的 没工作 我们家能不能给他单独申请低保",
    "Good morning is the tap water in Ningbo safe to drink? I just moved here and it tastes a bit like chlorine",
])
def test_a_question_for_information_is_a_consultation_even_with_a_grievance_in_it(text):
    """scope.md §1.5: asking what to do or whom to ask is a consultation, though it tells of a problem."""
    from ticketing.intake.keywords import explicit_type

    assert explicit_type(text.lower(), False, "complaint") == "consultation", text


@pytest.mark.parametrize("text", [
    "慈溪车管所那个窗口 照片不合格 旁边照相的要收五十 这不是串通好的吗",   # a grievance put as a question
    "霞浦这边停了一天电 冷库里的东西全坏了 谁赔",
    "燃气费怎么这个月突然多了两百多 能不能派人来看看表",                    # asks for someone to come
])
def test_a_grievance_put_as_a_question_or_a_request_for_action_is_not_made_a_consultation(text):
    from ticketing.intake.keywords import explicit_type

    assert explicit_type(text.lower(), False, "complaint") != "consultation", text


def test_the_main_topic_decides_the_type_of_a_two_topic_call(extractor):
    """路灯坏了 … 顺便问一下社保: a report with a question tacked on; 本来想问…不过现在…: the question is dropped."""
    p = extractor.propose("路灯坏了 就是我们镇政府门口往南那一段 黑了一个多礼拜了 哦对了顺便问一下 社保断交了一个月有没有影响")
    assert p.type == "report" and p.department == "urban-management"
    assert extractor._main_topic("我本来想问一下租房补贴怎么申请，不过现在化工厂冒出黄烟附近的人都咳嗽", "zh") \
        == "化工厂冒出黄烟附近的人都咳嗽"


def test_a_department_the_policy_names_for_a_present_danger_is_dispatched_without_a_dispatcher(extractor):
    """The rule's answer carries its measured precision (DANGER_DEPARTMENT_CONFIDENCE), above the
    needs-dispatcher threshold: a fire is sent to emergency management at once."""
    p = extractor.propose("喂 我家楼下电瓶车烧起来了 烟往楼上冒 楼道里全是烟 我们在六楼下不去")
    assert p.department == "emergency-management"
    assert p.confidence["department"] >= extractor.DANGER_DEPARTMENT_CONFIDENCE
    assert not p.needs_dispatcher
    assert abs(sum(q for _d, q in p.alternatives["department"]) - 1.0) < 0.05


@pytest.mark.parametrize("text, department", [
    ("我住在孔浦，楼下垃圾房的垃圾一直没人拉走，夏天味道冲得要死", "subdistrict-office"),   # rubbish in Jiangbei (dispatch.yaml)
    ("There's smoke filling our stairwell from a fire downstairs and we can't get out", "emergency-management"),
    ("湖里的水发绿了是不是蓝藻，能不能在里面游泳", "environment"),
])
def test_department_cue_words_from_the_remits(extractor, text, department):
    assert extractor.propose(text).department == department, text


@pytest.mark.parametrize("text, department", [
    ("我要举报我们小区有一间房子里聚众赌博，每天晚上很多人进进出出，声音很大", "public-security"),
    ("我要举报我们村有人在家里开设赌场，晚上好多外地车过来", "public-security"),
    ("我要举报一个人在小区里面无证行医，给老人针灸拔罐还卖药", "health"),
])
def test_a_matter_with_one_department_goes_there_whatever_the_wording(extractor, text, department):
    """scope.md §2: gambling is public security's, practising medicine without a licence health's."""
    assert extractor.propose(text).department == department, text


@pytest.mark.parametrize("text, type_", [
    ("怎么又停水了啊 我们整个小区从早上到现在一滴水都没有 一个月停三次了", "complaint"),
    ("浒山这边我们一整片停电三个钟头了 冰箱里东西都要化掉了 供电电话打过去一直占线", "complaint"),
    ("又停电了 家里老人在吸氧 机器用不了", None),   # someone at risk: the classifier's help stands
])
def test_an_outage_told_as_a_repeated_or_unanswered_grievance_is_a_complaint(text, type_):
    """scope.md §1.5: "又停水了" is a complaint, even for a whole community, unless someone is at risk."""
    from ticketing.intake.keywords import explicit_type

    assert explicit_type(text.lower(), True, "help") == type_, text


@pytest.mark.parametrize("text", [
    "hello can you hear me our building's lift makes a loud bang sometimes nobody is stuck but who is responsible for checking that lifts are safe",
    "Hi, a typhoon warning is coming this weekend, I'm new in Ningbo, what should I prepare",
    "I've just graduated, does the labour bureau run any job fairs",
    "Can I take my electric scooter battery on the metro",
    "地铁末班车几点，我晚上下班有点晚",
    "小人明年读小学，户口弗在学区里好报名伐",     # Ningbo dialect: …好报名伐 = can (he) register?
])
def test_english_questions_without_a_question_mark_are_consultations(text):
    """Recognised English has no '?': who is responsible for, what should I prepare, does the bureau …"""
    from ticketing.intake.keywords import explicit_type

    assert explicit_type(text.lower(), False, "complaint") == "consultation", text
