"""Hand-written domain cues: request types, urgency, and the work-order
taxonomy's categories (``ticketing/taxonomy/categories.yaml`` codes).

The classifier learns most of what it knows from the labeled set; these cues
add what a dispatcher would say is obvious (投诉 is a complaint, 煤气味 is
urgent) and map text onto categories, which the labeled set does not carry.
"""
from __future__ import annotations

import re

TYPES = ("consultation", "complaint", "help", "report", "suggestion", "praise")
URGENCIES = ("normal", "urgent")

# Type cues are regular expressions (searched in lower-cased text).
TYPE_CUES: dict[str, tuple[str, ...]] = {
    "consultation": (r"请问", r"咨询", r"想问", r"问一下", r"问下", r"怎么(办理|申请|交|补办|签|填|算|考|处理的|开)",
                     r"要带什么", r"什么材料", r"在哪里", r"去哪里", r"多久", r"什么时候", r"有没有", r"能不能在",
                     r"是不是", r"要不要", r"how (do|can|much)", r"i would like to (know|ask)", r"where (are|is|can|do)",
                     r"is there", r"(can|could) you tell me", r"what documents", r"is that allowed", r"should i"),
    "complaint": (r"投诉", r"态度(很|特别|太)?差", r"太差", r"不合理", r"合理吗", r"乱收费", r"多收", r"乱涨价",
                  r"收费太高", r"太离谱", r"不负责", r"也不管", r"没人管", r"不管", r"不给退", r"不肯", r"推给",
                  r"一直推", r"拖了", r"好几次了", r"凭什么", r"太慢", r"complain", r"unacceptable", r"refuses",
                  r"doubled", r"too (weak|slow|high)", r"does nothing"),
    "help": (r"帮忙", r"帮帮", r"帮我", r"求助", r"求求", r"赶紧", r"快派", r"快来", r"快点", r"着急", r"派人",
             r"修一下", r"来处理", r"处理一下", r"来看看", r"来查一下", r"检修", r"协调", r"被困", r"困在",
             r"怎么办(?!理)", r"停水了", r"停电了", r"没水", r"一滴水", r"起火", r"滑坡", r"走丢", r"没回家", r"被骗",
             r"找一下", r"找一找", r"能不能帮", r"救", r"help", r"please (send|come)", r"fix it", r"stuck",
             r"what (should|can) i do", r"we need", r"send someone"),
    "report": (r"举报", r"偷偷", r"违规", r"违法", r"非法", r"无证", r"没有(执照|许可证|营运证|资质)", r"可疑",
               r"冒用", r"冒领", r"偷税", r"私自", r"偷接", r"偷电", r"超载", r"假冒", r"假的", r"report",
               r"illegal", r"unlicensed", r"dumps", r"safety hazard"),
    "suggestion": (r"建议", r"提个建议", r"能不能多", r"希望", r"应该", r"多建", r"多开", r"多设", r"多组织",
                   r"加强", r"suggest", r"should be", r"would be better", r"can the .* adjust"),
    "praise": (r"表扬", r"感谢", r"谢谢", r"辛苦", r"点赞", r"praise", r"thank", r"grateful"),
}

# Urgent: a present risk to life, safety or basic living (ticketing/taxonomy/scope.md §4).
# Each pattern is a regex searched in lower-cased text; a match inside a negated, hypothetical
# or past clause does not count (see :func:`urgent_cues`).
URGENT_PATTERNS: tuple[str, ...] = (
    r"(煤气|燃气|天然气|液化气)(味|泄漏|漏气|漏)", r"(漏气|冒气|气味很大)", r"闻到.{0,4}(煤气|燃气|气味)",
    r"地下室.{0,10}(气罐|液化气)|(气罐|液化气).{0,10}地下室",
    r"被困|困在|困人|关着人|关在里面|关住了|关牢|电梯.{0,8}(卡住|卡在|困|关人|夹)|卡在.{0,6}(楼|中间)",
    r"(整栋|一整栋|整幢|一整幢|这幢楼|这栋楼|这一栋|整个小区|全小区|整片|一整片|整个村|全村|整条街|一整条街|好几栋|几栋楼|"
    r"整个单元|全部|整个楼)"
    r".{0,10}(停电|没电|断电|停水|没水|没有水|一滴水|断水|停暖|没暖气|没有暖气|停气|没有天然气|没有燃气|没气)",
    r"(停电|没电|断电|停水|没水|断水|停气|又停|停了.{0,3}[电水气]).{0,12}(整栋|整幢|整个小区|整片|整条街|一整条街|整个村|全村)",
    r"停电.{0,12}(电梯|吸氧|制氧|呼吸机)", r"(呼吸机|制氧机|吸氧).{0,20}(停电|没电|断电|跳闸)",
    r"(进水|淹了|淹到|被淹|漫到|漫进|涨上来|洪水|内涝|水没到|没过膝盖|熄火|倒灌进|往屋里灌|往家里灌)",
    r"(爆管|水管爆|管子爆|水管.{0,3}爆了|喷水)",
    r"停水.{0,3}(三|几|好几)天|没水喝",
    r"((?<!不)(?<!不了)着火|起火|火灾|冒烟|冒火花|打火花|浓烟|爆炸|烧起来)", r"(塌了|倒下来|快要倒|要倒了|坍塌|掉下来|滑坡|塌陷|塌下去|往下滑)",
    r"(井盖|窨井盖).{0,6}(不见|没了|丢了|被偷|缺|掀开)", r"电线.{0,6}(掉|垂|断|裸露|漏电|横在)|漏电|(电线杆|大树|树|广告牌).{0,6}(倒了|刮倒|倒下|倒在)",
    r"红绿灯.{0,6}(全|都)(坏|不亮|灭)|信号灯.{0,6}(全|都)(坏|不亮|灭)", r"车祸|(撞|车祸).{0,20}(受伤|流血|躺着|昏迷|飞出去)",
    r"(走丢|走失|还没回家|联系不上孩子|找不到(孩子|小孩|老人|我爸|我妈|我奶奶|我爷爷|女儿|儿子))|(孩子|小孩|女儿|儿子)找不到了",
    r"(出去|出门).{0,12}(没回来|没回家|还没回)|到现在(还)?没回(来|家)",
    r"(孩子|小孩|儿子|女儿|宝宝).{0,16}不见了|一转身就不见",
    r"(儿子|女儿|孩子|小孩|宝宝|婴儿).{0,10}(在车里|在后座|锁在)|(锁在|关在)车里.{0,12}(孩子|小孩|儿子|女儿|宝宝)",
    r"(独居|孤寡|一个人住|一个人在家).{0,30}(联系不上|摔|晕|不开门|没开门|没出门|没动静|病倒|打不通|不接|没人应|没看到)",
    r"(拿了刀|持刀|拿着刀|拿刀|打架|受伤|晕倒|摔了站不起来|被.{0,4}打了|流血|见血|打我|家暴|躲在|砸门|冲进来|在打人|动手打人)",
    r"(躺着不动|躺在地上|倒在地上|倒在路边|飞出去|昏迷|不省人事|叫不醒|嘴歪|讲不清楚|说不出话|中风|喘不上气|心脏病)",
    r"(睡在地上|蜷在|叫他也不|不太应).{0,30}|(零下|结冰|冻得|冻僵|发抖)|(人|汉|老人|老头|老太|孩子|小孩).{0,3}冻坏",
    r"(几|五六|十几|好几|多)个(人|小朋友|小孩|学生|孩子|工人).{0,8}(吐|拉肚子|上吐下泻|发烧|晕|中毒)|"
    r"好多(孩子|人|小朋友|学生|工人).{0,12}(呕吐|吐了|拉肚子|肚子疼|上吐下泻|晕倒)|(附近|周围)的人都(在)?(咳嗽|头晕|呕吐)",
    r"(船|渔船).{0,6}(翻了|沉了|吹翻|打翻)|落水|掉进(河|水|海)里|没上来|"
    r"(石头|落石|石块).{0,6}(滚下来|砸到|砸在|砸了)|rocks? (from|fell|are falling|crashed).{0,30}(house|home|road|into)",
    r"(诈骗|安全账户|被骗了).{0,12}(转|钱)|安全账户|还在叫我转|叫我转",
    r"(危险化学品|危化品|化学品|化工).{0,8}(泄漏|漏了|着火|冒烟)|泄漏",
    r"(病死猪|禽流感|死了好几十)", r"要跳楼|(?<!又)(?<!闸)跳下来|要跳下去",
    r"gas (leak|smell)|smell(s|ing)? (of )?gas|gas is leaking|smell gas", r"\b(stuck|trapped)\b",
    r"(whole|entire) (building|block|estate|community|compound|street|village).{0,30}"
    r"(power|electricity|water|heating)|no (water|power|electricity|heating).{0,30}(whole|entire) (building|block|estate)",
    r"\bflood(ing|ed)?\b|water (is )?(coming|pouring) into|"
    r"water .{0,40}(coming|pouring|flowing|rising) .{0,40}into (our|my|the) (home|flat|apartment|house|shop|basement|ground floor)", r"\b(burst|landslide|collapsed?|collapsing|injured|flammable)\b",
    r"\bfire\b(?! (lane|exit|door|escape|extinguisher|hydrant|alarm|station|safety|hazard))|(?<!kitchen )(?<!cooking )(?<!oil )\bsmoke\b(?! (from|straight))|\bsmoking\b|"
    r"\bsparking\b|live wires?|burning smell",
    r"\bscam(med)?\b.{0,30}(transfer|money)|being scammed|transferring (money|now)|"
    r"\b(sent|transferred|paid)\b.{0,40}\b(said he was|said she was|claiming to be|pretending to be)\b|pretending to be (the )?police|safe account|(threatening|going|wants?) to jump",
    r"cannot leave|rescue|right now|very cold|freezing|(can't|cannot) find (her|him|my)|"
    r"(missing|lost) (child|boy|girl|kid|son|daughter|grandmother|grandfather)|"
    r"\b(son|daughter|child|kid|boy|girl|mother|father|grandmother|grandfather|husband|wife)\b.{0,16}\bmissing\b",
)

# Present-danger families as a dispatcher names them (scope.md §4), each said the several ways
# callers say it (Mandarin, English, ASR slips); the same negated/feared/past filter applies.
URGENT_FAMILIES: dict[str, tuple[str, ...]] = {
    # a whole building / compound / village / area without water, power, gas or heating
    "whole_building_outage": (
        r"\b(whole|entire|all of (our|the)) (\w+ ){0,2}(building|block|estate|community|compound|street|village|"
        r"neighbou?rhood|area|complex|tower)\b.{0,40}\b(no|without|lost|off|out)\b.{0,12}(power|electricity|water|heating|gas|lights)\b",
        r"\b(estate|compound|village|building|block)\b.{0,30}\bhas(n't| not)? had no (water|power|electricity|gas|heating)\b",
        r"(整个|整栋|整幢|全)(小区|村|楼|单元|片区|大楼).{0,12}(都)?(停|没有?)(了)?(水|电|气|暖气)",
        r"(整栋|整幢|这幢楼|这栋楼|我们这幢|我们这栋|整个小区|全小区|整个村|全村).{0,12}(停|没)(水|电|气)?(到|了)?(现在|一天|半天|一上午|一下午|一晚上)",
    ),
    # a junction whose signals are all out
    "junction_lights_out": (
        r"(红绿灯|信号灯).{0,6}(全|都)(部|都)?(坏|不亮|灭|黑|熄)",
        r"\ball (the )?(traffic )?lights\b.{0,30}\b(out|dead|off|down|not working)\b",
        r"\b(traffic )?lights\b.{0,20}\b(all|completely) (out|dead|off)\b",
    ),
    # someone missing now: a child not home, a person with dementia gone, nobody found yet
    "missing_now": (
        r"到现在(还|都|也)?(没|没有)(回|找到|回来|回家)", r"(都|还)(没|没有)找到(他|她|人)?",
        r"(老年痴呆|失智|认不得路).{0,30}(出门|出去|走了|不见)",
        r"放学.{0,6}(没回来|没回家|还没回|没到家)|(孩子|儿子|女儿|小孩).{0,10}(还)?没(有)?回来.{0,10}(小时|钟头|了)",
        r"\b(son|daughter|child|kid|boy|girl|husband|wife|father|mother|dad|mum|mom|grand\w+|he|she)\b.{0,40}"
        r"\b(didn't|did not|hasn't|has not|still hasn't|never) (come|came) (home|back)\b",
        r"\b(still )?(haven't|have not|can't|cannot) (found|find) (him|her|them)\b", r"\bvanished\b",
        r"\b(lost|can't find|cannot find) my (little )?(son|daughter|child|kid|boy|girl|grand\w+|mother|father|mum|mom|dad)\b",
        r"(小孩|孩子|小朋友|老人|老太太|老头).{0,8}一个人.{0,12}(哭|坐在|站在|说不清|走来走去)|找不到(家|爸爸|妈妈)|"
        r"\b(child|kid|toddler|little (boy|girl))\b.{0,30}\balone\b.{0,30}\b(crying|road)\b",
        r"\b(dementia|alzheimer'?s)\b.{0,40}\b(walked|wandered|went) (out|off|away)\b",
    ),
    # a vulnerable person alone who cannot be reached, has fallen, calls for help
    "vulnerable_alone": (
        r"(独居|孤寡|一个人住|一个人在家|一个人住在).{0,30}(没接|没人接|不接电话|喊救命|起不来|爬不起来|摔倒|摔了)",
        r"\blives? alone\b.{0,60}\b(hasn't|has not|isn't|is not|haven't|have not|not) (answered|answering|seen|picking up|been seen)\b",
        r"\blives? alone\b.{0,60}\b(fell|fallen|fall|falling|can't get up|cannot get up|collapsed|call(ing|ed)? for help|crying for help)\b",
        r"喊救命|呼救|\bscreaming for help\b|\bcalling for help\b",
    ),
    # violence or a threat happening now
    "violence_now": (
        r"(撬|砸|踹)(我家|我们家)的?门", r"(一直|有个|有人).{0,6}跟着我|跟踪我",
        r"(在|正在)打(孩子|小孩|老婆|老人|人)", r"\b(following|stalking) (me|my (daughter|son|wife|child))\b",
        r"\b(are|is|were) fighting\b.{0,60}\b(knife|bottle|blood|bleeding|weapon)\b|\bthere'?s blood\b|\bbeing (beaten|attacked|hit)\b|\b(breaking|trying to break|forcing) (into|in|the door)\b|\bbreak(ing)? in(to)?\b",
    ),
    # a patient who depends on power without it
    "patient_on_power": (
        r"\b(ventilator|oxygen (machine|concentrator)|dialysis|breathing machine)\b.{0,60}\b(power|electricity)\b",
        r"\b(power|electricity)\b.{0,60}\b(ventilator|oxygen (machine|concentrator)|dialysis|breathing machine)\b",
    ),
    # gas, and carbon monoxide from a gas appliance
    "gas_smell": (
        r"\bsmell\w* (\w+ ){0,2}of gas\b|\bgas smell\b",
        r"(家里|厨房|屋里|卫生间|楼道|房间).{0,10}臭鸡蛋(的)?味|臭鸡蛋(的)?味.{0,12}(漏气|煤气|燃气)|没气味|煤汽味|燃汽味|"
        r"\b(kitchen|flat|home|house|apartment|stairwell|room)\b.{0,30}\brotten eggs?\b|\brotten eggs?\b.{0,30}\b(gas|kitchen)\b",
        r"(燃气热水器|热水器|煤气|燃气|炭火|煤炉).{0,20}(头晕|想吐|晕倒|昏倒)|\bcarbon monoxide\b",
        r"(燃气管|煤气管|天然气管|燃气管道|气管).{0,8}(挖破|破了|断了|裂了|挖断|撞坏)|嘶嘶.{0,6}(漏|响|冒)|\bgas (pipe|main|line)\b.{0,30}\b(hit|broken|cut|damaged|hissing)\b",
    ),
    # something about to fall on people, an open hole, a tree or pole across the road
    "falling_now": (
        r"摇摇欲坠|(差点|差一点)砸到|砸到(人|小孩|孩子|行人)",
        r"\b(tree|pole|sign|billboard)\b.{0,20}\b(came down|fell|fallen|down|blown over)\b.{0,40}\b(road|across|onto|on the)\b",
        r"(压在下面|被压住|压住了|被埋)|\btrapped under\b|\bpinned\b",
    ),
    # flood and drain water coming into homes
    "flood_into_home": (
        r"倒灌(进|上来|到|出来)|地漏.{0,8}(冒水|返水|涌)|(家里|屋里|店里|地下室|车库).{0,8}(全是水|都是水|进水)",
        r"\b(back(s|ing|ed)? up|overflow\w*|coming up|pouring) (in)?to (our|my|the) (\w+ )?(home|flat|apartment|house|shop|basement|garage)\b|\b(water|it)('s| is) rising\b",
    ),
    # people hurt, sick or in the water now
    "people_hurt_now": (
        r"\b(been|was|got|were|just) (knocked (off|down)|run over|hit by an? (car|van|truck|bus|lorry|motorbike))\b", r"\bbleeding\b",
        r"\b(sick|vomiting|throwing up|ill)\b.{0,20}\bafter (lunch|dinner|breakfast|eating|the meal|a meal)\b",
        r"\b(capsized|overboard|still in the water|drowning)\b", r"(卷进去|夹住了|夹在里面)",
        r"\bflames\b|\bcrackling\b",
    ),
    # trapped in a lift said as it is heard: banging, shouting inside
    "lift_people_inside": (
        r"电梯.{0,12}(里面有人|有人在).{0,8}(拍门|喊|叫|敲)|电梯里关着|关着一个",
        r"\b(lift|elevator)\b.{0,60}\b(banging|shouting|people inside|someone inside|between floors)\b",
        r"\b(baby|child|kid|toddler)\b.{0,30}\b(inside|locked in)\b.{0,30}\b(locked|alone)\b|"
        r"\blocked (myself )?out\b.{0,40}\b(baby|child|kid|toddler)\b",
    ),
    # a fraud transfer under way
    "fraud_in_progress": (
        r"(让|要|叫)我.{0,4}(继续)?转(钱|账)|让我继续转|(让|要|叫)我把.{0,10}转|把钱转到|银行卡密码|验证码告诉",
        r"\b(asking|asked|telling|told) me to (transfer|send|move) (more )?(money|it)\b",
    ),    # --- scope.md §4 situations said the ways further hands say them (issue 18, E18i) ---------------
    # a whole building / compound / street / village / area without water, power, gas or heat (§4: however
    # long so far); a single household is not (我家停电了 就我一家)
    "area_outage": (
        r"(整个|整栋|整幢|一整栋|一幢|一栋|这栋|这幢|阿拉一幢|所有(的)?楼|所有楼|整片|这片|这一片|一片|一整片|整条街|一条街|"
        r"整个?村|村里|村子|一个村子|整个工业区|一个小区|小区里)"
        r"[^，,。！？!?；;]{0,8}?((都|全|也)?(停|没|断|黑)(了)?(水|电|气|燃气|暖气|有水|有电|掉)|"
        r"(自来水|水|电|燃气|天然气|暖气)(都|也|全)?(停|没|断)(了|掉))",
        r"(整个|全)(停电|停水|停气|没电|没水)",
        r"\b(whole|entire|all (of )?(the|our)|all the) (\w+ ){0,2}(building|block|estate|community|compound|street|village|"
        r"neighbou?rhood|area|complex|tower|dorm|campus|industrial (park|zone)|street)\b(.{0,60}"
        r"\b(no|without|lost|off|cut)\b( \w+){0,4} (power|electricity|water|heating|gas|hot water|lights)\b|.{0,40}\b(blacked out|dark|"
        r"power cut|power outage|water cut|outage|(power|electricity|water|heating|gas|lights) (is |are |has been |have been |went )?(off|out))\b)",
        r"\b(no|without|lost)\b (\w+ ){0,3}(water|power|electricity|gas|heating|hot water|lights)\b.{0,50}"
        r"\b(whole|entire|all (of )?(the|our)|all the) (\w+ ){0,2}(building|block|estate|community|compound|street|village|"
        r"neighbou?rhood|area|complex|tower|dorm)\b",
        r"\b(building|compound|estate|dorm|block|street)\b.{0,40}\b(has|have|had)( had)? no (water|power|electricity|gas|heating)\b.{0,60}"
        r"\b(hundreds?|dozens?|families|workers|residents|everyone|newborn|bedridden|elderly|old)\b",
    ),
    # someone about to take their life: on a roof edge, outside a railing, saying they will jump or end it
    "self_harm_now": (
        r"(要|想|说要|要往下|往下)(跳|跳河|跳江|跳海|跳楼|轻生|自杀)|跳(河|江|海|楼)|翻到.{0,4}(栏杆|护栏|窗)外|"
        r"(站|坐|爬)(在|到)(了)?.{0,6}(楼顶|天台|桥栏杆外|栏杆外|护栏外|窗台外|边上).{0,12}(腿|脚|跨出去|哭|跳|下面|喊|不理|不下来|围了)|"
        r"不想活|想不开|寻死|(喝|吃)(了)?(农药|安眠药)|割腕",
        r"\b(threaten\w*|going|wants?|says? (he|she)('ll| will)|saying (he|she)('ll| will)) (to )?(jump|kill (him|her|my)self|end it)\b|"
        r"\b(he|she)('ll| will) jump\b|\bkill (him|her|my)self\b|\bsuicid\w*|\bend (it|her life|his life)\b|"
        r"\bstanding on the edge\b|\bon the edge of the (roof|bridge|building|crane)\b",
    ),
    # violence, robbery, a threat or a captive now
    "violence_now_more": (
        r"(拿着|拿了|举着|抄起|拿)(啤酒瓶|酒瓶|砖头|板凳|凳子|棍子|铁棍|砍刀|菜刀|刀)|砸人|打起来了|打起来|"
        r"(在|正在|还在)(打|砸|抢)(人|老婆|孩子|小孩|老人|东西|他|她|我)|被(她|他)?(老公|老婆|男的|人)打|抢.{0,3}包|"
        r"地上(都)?是血|流了(好多|很多)血|满脸是血|不肯走.{0,12}(砸|打)|砸东西|被人带走|不让(我)?(下车|出去)|"
        r"(关|锁)在.{0,6}(房间|屋)里.{0,12}(手机|不让)|收了我的手机|泼.{0,6}汽油|一直在摸我",
        r"\b(beating|hitting|punching|attacking|robbing|mugging|stabbing)\b|\b(knife|machete|weapon|gun)\b|\bblood\b|"
        r"\bwon'?t let me (out|go|get out)\b",
    ),
    # people trapped: a lift between floors, a locked room, a cold store, water they cannot get out of
    "trapped_now": (
        r"(关|锁|困)(在)?(电梯|冷库|房间|屋|里面|幼儿园|车里|厕所|卫生间)|被关在|(人|孩子|小孩|老人|几户|有人|婆婆|外婆|奶奶)"
        r"[^车]{0,6}(出不来|出不去|下不来|下不去)|门打不开|(电梯|电题).{0,10}(两层中间|楼中间|层中间|停在|掉到|往下掉|掉了|坠)|"
        r"(水|火|烟).{0,12}(出不来|出不去|车开不出去)",
        r"\b(can'?t|cannot|couldn'?t) (get|go) in or out\b|\blocked (in|inside)\b|\bstuck (in|inside|between)\b|"
        r"\b(lift|elevator)\b.{0,40}\b(between (floors|two floors)|dropped|fell|plunged)\b|\bupside down\b.{0,30}\binside\b",
    ),
    # someone in the water: fallen in, swept away, cut off by the tide, drowning
    "in_the_water": (
        r"掉(到|进|下|入|在)?(了)?(河|江|湖|海|池塘|冰窟窿|井|沟)(里|中)?|掉(到|进|入)(了)?水(里|中)|(河|江|湖|海|水|冰|池塘|河埠头|步道|桥).{0,12}掉下去了|"
        r"落水|(人|小孩|孩子|有人).{0,6}沉下去|(在|还在)水里|扑腾|被(浪|潮水|水|洪水).{0,2}(卷走|冲走|围住)|潮水围住|游泳出不来|(船|渔船).{0,16}(漂着|坏了.{0,6}浪)",
        r"\b(fell|fallen|jumped|slipped) (in|into) (the )?(river|lake|sea|water|canal|pond)\b|\bdrown\w*|\bswept (away|out)\b|"
        r"\b(still|is|are) in the water\b|\bcars? (are |is )?floating\b",
    ),
    # fire and smoke in a home, a vehicle, equipment (a factory chimney's smoke is emissions, not this)
    "fire_now": (
        r"(窗户|楼|房子|屋|家|车|电瓶车|电动车|汽车|变压器|变电箱|电箱|配电箱|充电桩|仓库|厨房|油锅|楼道|门口|柜子|插座|高速上).{0,10}"
        r"(冒烟|冒黑烟|冒白烟|冒火|在烧(?!纸|垃圾|秸秆|树叶|稻草|落叶)|烧起来|着起来|火很大)|(楼道|屋里|家里|房间|走廊)(里)?(全是烟|都是烟)|"
        r"火窜|扑不灭|放火|烟一直往|有烟上来|"
        r"(着|起)(货|伙)了",
        r"\b(is|are) (on fire|in flames)\b|\b(is|are) burning\b(?! (leaves|rubbish|trash|garbage|paper|plastic|straw|incense))|"
        r"\b(cable|car|truck|bus|scooter|bike|pole|wire|box|van)\b.{0,20}\bburning\b|\bsmells? like burning\b",
    ),
    # gas said the ways it is noticed: a smell like LPG, a hiss, a valve that will not close, dizziness
    "gas_more": (
        r"(液化气|煤气|燃气|然气|天然气).{0,6}(那种)?(味道|气味|的味|味好重|有味道)|像(煤气|液化气|燃气)|"
        r"气出来的声音|嘶嘶|阀门.{0,4}关不(牢|住|上|紧)|(气|阀门|煤气|液化气|燃气|气瓶|气罐).{0,8}(一直|还)在漏|漏氨|"
        r"(燃气热水器|热水器|煤气|燃气|炭火|煤炉|烧水).{0,30}(头很晕|头有点晕|头晕|晕|想吐)",
        r"\bsmell\w*( \w+){0,3} like gas\b|\blike gas\b|\bis (that|it) gas\b|\bgas (leek|leak)\w*|\bdefinitely gas\b|"
        r"\bhiss\w*\b.{0,30}\b(gas|pipe|meter|stove)\b|\b(gas|pipe|meter|stove)\b.{0,30}\bhiss\w*|\brotten eggs?\b",
    ),
    # water coming into homes, shops, basements; a dam or embankment giving way
    "flood_into_home_more": (
        r"(水|雨水|污水|黑水|臭水).{0,10}(往.{0,8}(灌|进|冲|涌)|冲进|灌进|进来了|进了.{0,4}(家|屋|店|地下室|车库))|"
        r"(地漏|马桶|卫生间).{0,10}(往上冒|冒出来|冒水|往外冒|返水|往上涌)|"
        r"(客厅|屋里|家里|一楼|店里|地下室|车库|房间).{0,6}(都是水|全是水|全泡|泡着|进水|一层水)|"
        r"水都到(腰|膝盖|大腿|胸)|水(在|还在)涨|水位涨|决口|海塘.{0,4}漫水|(坝|堤).{0,8}(冒水|渗水|决口|垮)|"
        r"(山洪|洪水).{0,12}(冲|下来)",
        r"\b(filling|filled) (up )?with water\b|\bwater (is )?(coming|pouring|gushing) (in|through)\b|\bwater\b.{0,30}\b(ceiling)\b.{0,20}\b(fast|waterfall|pouring)\b",
    ),
    # something collapsing or about to fall on people or a road
    "collapse_now": (
        r"往外鼓|往外倒|往外倾斜|(在|还在)?往下(陷|沉|滑|滚)|(在|还在|一直)往下掉|在下沉|随时(会|可能|要)?(倒|塌|掉)|快(要)?掉(下去|下来)|"
        r"摇摇晃晃|挂在那里晃|(掉|落)砖头|在掉(砖|东西|瓷砖|石头)|塌下来|冲(垮|断)|山体.{0,8}(滑|裂|塌)|滑坡|"
        r"(石头|泥巴|泥石).{0,6}(往下|滚下来|砸)|往下扔",
        r"\babout to (fall|collapse|come down|give way)\b|\b(is|are|keeps?|keep) (falling|sliding|collapsing|bulging|caving|coming down)\b|"
        r"\b(just )?slid\b|\bhalf buried\b|\bsliding\b|\bcracks? (are )?(getting|opening)\b",
    ),
    # a vulnerable person who cannot be reached, has fallen, is lost or out in the cold
    "vulnerable_more": (
        r"(老人|我妈|我爸|奶奶|爷爷|外婆|外公|阿婆|老太|老头|老两口|阿伯|老奶奶|老人家|一个人住|独居|她|他)"
        r".{0,24}(电话.{0,6}(没人接|打不通|不接|关机)|联系不上|敲门.{0,4}(没|不)|敲不开|没动静|没反应|叫不应|好几天没见|一直没动)|"
        r"(摔倒|摔了|跌倒|倒在).{0,8}(起不来|爬不起来|站不起来|动不了)|说不(清|出)家|找不(到|着)家|"
        r"一眨眼|一转眼.{0,4}(不见|人没了)|走散|找不着了|(下雪|雨夹雪|零下|天这么冷|大冷天).{0,20}(没反应|叫不醒|只穿|穿得很少|睡在|躺在)|"
        r"(睡在|躺在|坐在).{0,12}(下雪|雨夹雪|冷).{0,8}(没反应|叫不醒)|(孩子|小孩|小朋友).{0,12}(窗台外|空调架)",
        r"\b(fell|fallen|collapsed)\b.{0,40}\b(can'?t|cannot|couldn'?t) get up\b|\bhasn'?t opened (her|his|the) door\b|\bnot (really )?respond\w*\b|"
        r"\b(no answer|not answering|straight to voicemail)\b|\b(lost|let go of) (him|her)\b|\blet go of my\b|\bbelow zero\b|\bsnowing\b.{0,40}\b(homeless|sleeping|lying)\b|"
        r"\b(homeless|sleeping rough)\b.{0,60}\b(snow|snowing|freezing|below zero|shaking|cold)\b",
    ),
    # patients and infants who depend on power
    "dependent_on_power": (
        r"(腹透|透析|吸痰机|呼吸机|保温箱|制氧机|气垫床|吸氧).{0,30}(停电|没电|断电|跳闸|插电|停了)|(停电|没电|断电|跳闸).{0,30}(腹透|透析|吸痰机|呼吸机|保温箱|制氧机|气垫床)",
        r"\b(dialysis|ventilator|oxygen|incubator)\b.{0,30}\b(stopped|off|no power|died)\b",
    ),
    # chemicals leaking, a tanker overturned, people coughing from a smell
    "chemical_now": (
        r"(罐子|罐车|槽罐车|储罐|罐区|反应釜|化工|化学品|危险品|集装箱|冷库).{0,12}(漏|泄|冒烟|冒白烟|冒黄烟|冒出来|侧翻|翻了)|侧翻|"
        r"(刺鼻|味道).{0,16}(睁不开|跑出来)|警报一直在响",
        r"\b(chemical|tanker)\b.{0,30}\bleak\w*\b|\bchemical smell\b.{0,60}\b(cough\w*|eyes)\b|\bleaking something\b",
    ),
    # many people taken ill after a meal, an ambulance called
    "sick_after_meal": (
        r"(好多|很多|几十|十几|几个|一家|全家|都在|大家).{0,14}(上吐下泻|在吐|呕吐|吐了)|叫了救护车",
        r"\b(vomiting|throwing up|stomach cramps|food poisoning)\b.{0,40}\b(all|whole|family|guests|people|dozens|twenty|kids|us)\b|"
        r"\b(all|whole|family|guests|people|dozens|twenty|kids|us)\b.{0,40}\b(vomiting|throwing up|sick with)\b",
    ),
    # danger on the road now: drink-driving, a wrong-way car, a stranded family, all lights dark
    "road_danger_now": (
        r"喝(多|醉)了.{0,6}(还)?(在)?开车|酒驾.{0,10}(在开|还在)|(高速|高架|快速路|环城).{0,8}逆行|(车|车子).{0,6}翻了|应急车道.{0,30}(孩子|小孩)|"
        r"(红绿灯|信号灯|方向的灯).{0,6}(全是黑|全黑|都黑|全灭)",
        r"\b(traffic )?lights\b.{0,12}\b(all )?(dark|out)\b|\bdrunk\b.{0,20}\bdriv\w*|\bwrong way\b",
    ),
    # live wires and failing electrical equipment
    "live_wire_more": (
        r"电线.{0,10}(冒火|在冒|火花|噼啪|掉在|掉下来|刮下来|垂下来|有电)|(变压器|变电箱|电箱|配电箱|电表箱|电缆).{0,12}(冒火|冒烟|噼啪|啪啪|砰|着火|烧)|"
        r"水里.{0,4}麻|电到人",
        r"\b(cable|wire|power line)s?\b.{0,30}\b(came down|lying|buzzing|burning|sparking|down|hanging)\b|"
        r"\b(electrical|fuse|meter) box\b.{0,30}\b(buzzing|burning|smok\w*|spark\w*)\b",
    ),
}
URGENT_PATTERNS = URGENT_PATTERNS + tuple(p for family in URGENT_FAMILIES.values() for p in family)

# A danger word in a clause with one of these is not a present danger (scope.md §4): denied,
# feared or hypothetical, or already over.
# (没办法, 没人管, 没用 are no denial of what follows: 没办法 家里进水了)
URGENT_NEGATION_ZH = re.compile(r"(没有|没|并没|不是|不会|无|别|未)(?!办法|人管|人理|人来|用|完)[^，,。！？!?；;]{0,4}$")
# A hypothetical, feared, future or past marker governs the danger words said soon after it in the same
# clause (URGENT_MARKER_REACH characters): in unpunctuated speech a 之前 said at the start of a long call
# does not make a danger told at its end a past one.  (可怕 and 恐怕 are no fear of a future danger.)
URGENT_MARKER_REACH = 24
URGENT_HYPOTHETICAL_ZH = re.compile(r"(万一|如果|要是|假如|假设|一旦|(?<![可恐])怕|担心|害怕|担忧|会不会|可能会|容易|以后|将来|"
                                    r"明天|后天|下周|下礼拜|下个月|计划|预计|通知说|"
                                    r"迟早|防止|预防|避免|以防|上次|上回|之前|以前|去年|上个月|上礼拜|上个礼拜|上星期|上个星期|上周|前几天|前两天|"
                                    r"听说|别的地方|已经修好|"
                                    r"已经恢复|及时)")
# Said anywhere in the call, these deny the danger its words name (没着火啊, it's not a fire emergency,
# 人没事, no one has fallen in): the words then tell what it is not.
# Said anywhere in the call, these tell that nobody is in danger (没人被困, 人倒是没事, nobody is stuck, no
# one has fallen in): the urgency model's guess is then not taken (the rules have their own denials).
NOBODY_IN_DANGER = re.compile(r"(没人被困|没有人被困|人倒是没事|人都没事|还好没人|没人受伤|没有人受伤|没伤到人|"
                              r"\b(nobody|no one|no-one)('s| is| was| has| got)? (been )?(stuck|trapped|hurt|injured|fallen|inside)\b)", re.I)
URGENT_DENIED = (
    (re.compile(r"(不是着火|没着火|没有着火|没起火|不是火灾|not a fire|no fire|isn't a fire|not on fire)", re.I),
     re.compile(r"着火|起火|火灾|冒烟|浓烟|fire|smoke", re.I)),
    (re.compile(r"(没人被困|没有人被困|没人困在|\b(nobody|no one) (is |was |got )?(stuck|trapped|inside)\b)", re.I),
     re.compile(r"淹|水|积水|被困|困|flood|stuck|trapped|water", re.I)),
    (re.compile(r"(人没事|没人受伤|没有人受伤|没伤到人|no one (is |was )?(hurt|injured)|nobody (is |was )?(hurt|injured))", re.I),
     re.compile(r"车祸|撞|追尾|受伤|injured|crash", re.I)),
    # all over now: 现在已经没事了, it's fine now
    (re.compile(r"(现在已经没事了|已经没事了|现在没事了|已经救出来了|已经恢复了|已经扑灭|已经被扑灭|已经灭了|火已经灭|"
                r"(it's|it is|everything is) (all )?(fine|ok|okay) now|everyone is (fine|ok|okay)|"
                r"(it's|it is|power is|water is|everything is|it came) back( on)? now|"
                r"(was|has been|were) (put out|extinguished))", re.I),
     re.compile(r".", re.S)),
)
# English words that look like a denial or a conditional but ask for help or hedge: "I don't know who to
# call, there is smoke", "could you send someone", "not sure, but it smells of gas".
_EN_NOT_A_DENIAL = re.compile(r"\b(don'?t|do not|doesn'?t) know\b|\bnot sure\b|\b(could|would|can) (you|someone|somebody|anyone)\b|"
                              r"\bif (you|someone|somebody|anyone) (can|could)\b|\bno idea\b", re.I)
# A denial or a conditional inside a long match, just before its last words (电线 被树枝压着 没冒火,
# 家里老人要是联系不上): the match does not tell of a present danger.
_NEGATED_END = re.compile(r"(没有|没|未|不是|并没|不会|倒是没)(冒火|冒烟|冒|着火|起火|掉下来|掉|漏|倒|塌|烧)$")
_NOW_ZH = re.compile(r"(现在|今天|刚才|刚刚|这会儿|眼下|此刻|目前)")
_HYPOTHETICAL_INSIDE = re.compile(r"(万一|如果|要是|假如|假设|一旦|会不会)")
URGENT_NEGATION_EN = re.compile(r"\b(no|not|never|without|isn't|wasn't|aren't|don't|doesn't|didn't|nobody|no one|"
                                r"if|in case|what if|worried|afraid|might|could|would|last (week|month|year|time)|"
                                r"was fixed|prevent|avoid)\b[^.,;!?]{0,30}$")
# Clauses end at punctuation, and in recognised speech at a pause: a space between Han characters.
_PAST_INSIDE = re.compile(r"(上次|上回|之前|以前|去年|上个月|上礼拜|上星期|上周|前几天|过人)")
# Said after the danger words in the same clause, these put them in the past: "stuck in a lift for
# twenty minutes last month", "被困了半个小时 现在已经没事了".
_PAST_AFTER = re.compile(r"^[^.;!?。！？；]{0,60}?(\blast (week|month|year|time|night)\b|\bevery (night|day|evening|weekend|week)\b|"
                         r"\b(a|one|two|three|four|five|six|several|a few|some|\d+) (week|month|year)s? ago\b)", re.I)
_HYPOTHETICAL_BEFORE_PAUSE = re.compile(r"(万一|如果|要是|假如|假设|一旦|what if|\bif)[ ]+$", re.I)
_CLAUSE_END = re.compile(r"[，,。！？!?；;]|(?<=[\u4e00-\u9fff]) +(?=[\u4e00-\u9fff])")


def urgent_cues(text: str, patterns) -> list[str]:
    """The urgent patterns' matches in ``text`` that tell of a present danger.

    A match is dropped when its clause (the text between punctuation) has a negation right
    before it (没有闻到煤气味, no smell of gas), or a hypothetical, feared or past marker anywhere
    before it in the clause (万一着火, 如果漏气, 上次停电, if there were a fire)."""
    found = []
    for pattern in patterns:
        for m in pattern.finditer(text):
            start = m.start()
            clause_start = 0
            for p in _CLAUSE_END.finditer(text, 0, start + 1):  # +1: a pause just before the match ends the clause
                if p.end() <= start:
                    clause_start = p.end()
            # a conditional said just before a pause still governs what follows (想问下 万一 家里闻到煤气味)
            if clause_start and _HYPOTHETICAL_BEFORE_PAUSE.search(text, 0, clause_start):
                continue
            before = text[clause_start:start]
            reach = before[-URGENT_MARKER_REACH:]
            now = None
            for now in _NOW_ZH.finditer(reach):
                pass
            if now is not None:   # 之前报修的路灯…现在整栋楼停水了: what is said now is not governed by the 之前
                reach = reach[now.end():]
            if URGENT_NEGATION_ZH.search(before) or URGENT_HYPOTHETICAL_ZH.search(reach):
                continue
            if URGENT_NEGATION_EN.search(_EN_NOT_A_DENIAL.sub(" ", before)):
                continue
            said = m.group(0)
            if _NEGATED_END.search(said) or _HYPOTHETICAL_INSIDE.search(said):
                continue
            # a past marker inside the match (电梯上个月还困过人) tells of a danger that is over
            if _PAST_INSIDE.search(m.group(0)) or _PAST_AFTER.search(text[m.end():]):
                continue
            if any(denial.search(text) and words.search(m.group(0)) for denial, words in URGENT_DENIED):
                continue
            # 没有人被困 / 没人被关: negation with a subject in between
            if re.search(r"(没有|没)人.{0,2}$", before):
                continue
            found.append(m.group(0))
            break
    return found


# Category cues, by taxonomy code.  The taxonomy's own zh/en names are cues too.
CATEGORY_CUES: dict[str, tuple[str, ...]] = {
    "illegal-construction": ("违章建筑", "违建", "搭建", "加盖", "illegal extension", "illegally building"),
    "street-vending": ("流动摊贩", "摊贩", "占道经营", "摆摊", "摊位", "street vendors", "vendors"),
    "garbage-collection": ("垃圾桶", "清运", "没人收垃圾", "垃圾没人", "没人来收", "没来收", "没人来拉", "没人清", "not collected", "hasn't been collected", "垃圾房", "垃圾站", "没人拉走",
                           "rubbish"),
    "outdoor-advertising": ("广告牌", "店招", "招牌", "户外广告", "advertis"),
    "cooking-fumes": ("油烟", "cooking oil", "cooking fumes"),
    "street-facilities": ("路灯", "井盖", "窨井", "栏杆", "street light", "manhole"),
    "drainage": ("积水", "排水", "下水道", "雨水井", "倒灌", "内涝", "污水井", "waterlogged", "drains", "underpass"),
    "property-management": ("物业", "业委会", "物业费", "property management"),
    "housing-maintenance": ("维修基金", "外墙", "墙体开裂", "楼顶漏水", "渗水", "房屋鉴定", "漏水"),
    "old-community-renovation": ("老旧小区改造", "加装电梯", "老小区改造"),
    "construction-noise": ("工地", "施工", "打桩", "construction site"),
    "road-damage": ("路面塌陷", "坑", "路面", "桥面", "公路", "pothole"),
    "bus-service": ("公交", "末班车", "班车", "客运", "bus", "ferry", "shuttle"),
    "taxi-service": ("出租车", "网约车", "拒载", "黑车", "不打表", "taxi"),
    "illegal-parking": ("违停", "违章停车", "乱停", "挪车", "消防通道", "拖走", "fire lane", "parked"),
    "traffic-signal": ("红绿灯", "信号灯", "闪黄灯", "traffic light"),
    "public-order-disturbance": ("扰民", "打架", "赌博", "偷", "诈骗", "可疑", "传销", "noise", "scam", "stole"),
    "household-registration": ("户口", "身份证", "居住证", "户籍", "护照"),
    "neighbourhood-dispute": ("邻居", "邻里", "调解", "mediate", "neighbour"),
    "community-service": ("社区", "居委会", "网格员", "证明", "老年食堂", "community office", "residence certificate"),
    "air-pollution": ("废气", "粉尘", "扬尘", "烟囱", "黑烟", "异味", "臭味", "雾霾", "空气质量", "焚烧", "喷漆",
                      "air quality", "chemical smell"),
    "water-pollution": ("排污", "污水", "废水", "死鱼", "河水", "油污", "waste water", "dumps waste"),
    "industrial-noise": ("机器噪音", "机器轰隆", "机器一直响", "厂里机器", "厂子里机器", "humming noise", "factory noise", "冷却塔", "噪音", "冲床", "机器轰轰", "轰轰响", "风机", "factory noise", "compressor",
                         "machines are loud"),
    "consumer-complaint": ("退款", "退货", "退卡", "健身卡", "美容院", "商家", "refund", "消费"),
    "food-safety": ("过期", "食品", "食物中毒", "吃出", "蟑螂", "拉肚子", "后厨", "food", "restaurant"),
    "price-violation": ("价格", "涨价", "缺斤短两", "乱喊价", "价格欺诈", "一口价"),
    "elevator-safety": ("电梯", "lift", "elevator"),
    "wage-arrears": ("欠薪", "工资", "工钱", "拖欠", "salary", "wages", "not paid"),
    "social-insurance": ("社保", "养老金", "失业保险", "工伤", "社保卡", "unemployment insurance"),
    "employment-services": ("劳动合同", "加班", "辞退", "培训", "补贴", "招工", "中介", "overtime"),
    "medical-service": ("医院", "医生", "护士", "诊所", "看病", "急诊", "挂号", "hospital", "clinic", "emergency department"),
    "epidemic-prevention": ("疫苗", "防疫", "体检", "vaccination", "vaccine"),
    "insurance-reimbursement": ("报销", "医保", "异地就医", "慢病", "medical insurance", "reimburse"),
    "insurance-card": ("医保卡", "医保电子凭证", "insurance card"),
    "school-enrolment": ("入学", "上小学", "学区", "转学", "学籍", "中考", "enrol"),
    "off-campus-training": ("培训班", "培训机构", "补课", "校外培训", "extra classes", "tutoring"),
    "elderly-care": ("养老院", "老人", "高龄补贴", "养老服务", "老年", "nursing home", "elderly", "old age"),
    "social-assistance": ("低保", "救助", "流浪", "困难家庭", "残疾人", "homeless"),
    "water-outage": ("停水", "没水", "水压", "水质", "黄的", "no running water", "tap water"),
    "water-pipe-leak": ("水管爆", "爆管", "自来水管", "消防栓", "burst water pipe", "water pipe"),
    "power-outage": ("停电", "来电", "电费", "电表", "电压", "lost power", "electricity"),
    "power-line-hazard": ("电线", "电线杆", "变压器", "电缆", "冒火花", "power line"),
    "gas-leak": ("煤气味", "燃气味", "漏气", "泄漏", "gas leak", "smell of gas"),
    "gas-supply": ("燃气", "天然气", "液化气", "气瓶", "燃气费", "natural gas", "gas supply", "gas account"),
    "illegal-land-use": ("基本农田", "占用", "宅基地", "围垦", "挖矿", "砍树", "farmland"),
    "property-registration": ("不动产", "房产证", "产权", "登记", "property title"),
    "safety-hazard": ("安全生产", "隐患", "防护", "塔吊", "高空作业", "safety hazard"),
    "hazardous-chemicals": ("危险化学品", "危化品", "易燃易爆", "化工厂", "烟花爆竹", "flammable chemicals"),
    "agricultural-inputs": ("种子", "化肥", "农药", "农资", "fertiliser", "fertilizer"),
    "animal-epidemic": ("病死猪", "禽流感", "死了好几十", "动物防疫", "animal disease"),
    "invoice": ("发票", "开票", "invoice"),
    "tax-consultation": ("个税", "退税", "纳税", "契税", "增值税", "税", "income tax"),
}


def compile_patterns(patterns) -> list[re.Pattern]:
    return [re.compile(p, re.I) for p in patterns]

# Department cues: words that, in a Ningbo hotline call, point at one handling department.
DEPARTMENT_CUES: dict[str, tuple[str, ...]] = {
    "urban-management": ("城管", "积水", "排水", "下水道", "污水井", "雨水井", "倒灌", "内涝", "市政管网", "反上来", "路灯", "摊贩", "占道", "违章建筑", "违建", "加盖", "搭建", "窨井盖", "井盖", "垃圾桶",
                         "环卫", "建筑垃圾", "装修垃圾", "乱倒", "广告牌", "店招", "招牌", "绿化带", "公共厕所", "厕所",
                         "油烟", "焚烧垃圾", "共享单车", "空调外机", "树倒", "人行道", "street light", "vendors",
                         "sidewalk", "illegal extension", "rubbish", "toilet", "billboard", "灯箱", "门头", "步道", "shop sign", "signboard", "sellers", "stalls", "垃圾房", "垃圾站", "manhole", "street vendor", "litter", "public toilet", "illegal structure", "waterlogged", "drain", "drains"),
    "housing": ("物业", "业委会", "业主", "开发商", "交房", "楼盘", "维修基金", "加装电梯", "群租", "公租房", "人才公寓",
                "房东", "押金", "租房", "中介", "外墙", "墙体开裂", "房子", "装修公司", "商品房", "保修期", "车库顶板",
                "老旧小区改造", "停车位", "工地", "施工", "打桩", "property management", "landlord", "deposit", "public rental", "rented a flat",
                "residential compound", "flat", "工地噪音", "施工噪音", "装修噪音", "developer", "install a lift", "owners", "owners' committee", "property company", "property fee", "compound wall", "wall around our compound", "repair fund", "tenant", "letting agent", "cracks in the wall"),
    "transport": ("公交", "司机", "出租车", "网约车", "拒载", "地铁", "机场大巴", "末班车", "客运", "班车", "公路", "路面塌陷",
                  "站台", "黑车", "营运证", "不打表", "桥面", "渡轮", "轮渡", "车站", "bus", "taxi", "ferry", "shuttle",
                  "metro", "driver", "route", "桥上", "桥梁", "护栏", "bridge", "caved in", "road surface", "bus stop", "bus route", "ride-hailing", "metro line", "coach"),
    "traffic-police": ("交警", "红绿灯", "信号灯", "闯红灯", "违停", "违章停车", "挪车", "驾驶证", "驾照", "车牌", "上牌",
                       "追尾", "车祸", "飙车", "电子警察", "扣分", "扣了", "罚单", "违章", "测速", "斑马线", "拖走",
                       "年检", "免检", "机动车", "无证驾驶", "traffic light", "traffic jam", "licence plate", "driving licence", "parked",
                       "fire lane", "traffic police", "electric bicycle", "电瓶车上牌", "foreign driving licen", "driving test", "私家车乱停", "乱停", "parks across", "parking", "pedestrian light", "crossing with lights", "crash", "collision", "car accident", "tow", "towed", "license plate", "red light", "speeding", "driving license"),
    "public-security": ("派出所", "民警", "警察", "报警", "扰民", "诈骗", "骗", "洗钱", "安全账户", "身份证", "户口", "居住证",
                        "护照", "赌博", "打架", "拿了刀", "偷", "被盗", "监控", "走丢", "走失", "没回家", "传销", "假证", "学历证", "短信", "链接",
                        "可疑", "卡拉OK", "狗", "半夜", "凌晨", "划拳", "scam", "scammed", "stole", "broke into",
                        "loud music", "police", "noise", "拉人头", "pyramid", "suspicious", "hanging around", "residence permit", "following me", "stalking", "stolen", "theft", "burglary", "fight", "drunk", "fraud", "passport", "id card", "hukou"),
    "environment": ("环保", "生态环境", "排污", "废气", "污水", "废水", "死鱼", "粉尘", "扬尘", "搅拌站", "噪音", "异味",
                    "刺鼻", "黑烟", "焚烧", "排放", "环评", "空气质量", "雾霾", "辐射", "基站", "喷漆", "油漆味", "危险废物",
                    "油污", "电镀", "冷却塔", "臭气", "电瓶", "air quality", "waste water", "chemical smell", "pollution",
                    "factory", "factories", "黄烟", "烟囱", "猪粪", "粪水", "蓝藻", "algae", "冲床", "风机", "轰轰响", "compressor", "machines are loud", "river is black", "black water", "foam", "dust", "discharge", "discharging", "fumes from the factory", "smells terrible"),
    "market-regulation": ("市场监管", "电梯故障", "电梯老是", "电梯门", "电梯里", "电梯卡", "电梯困人", "困在电梯", "维保", "小卖部", "三无", "零食", "个体工商户", "过期", "食品", "超市", "健身卡", "健身房", "退卡", "美容院", "营业执照",
                          "假冒", "名牌", "蟑螂", "餐馆", "饭店", "快餐", "价格欺诈", "矿泉水", "缺斤短两", "秤", "药店",
                          "虚假宣传", "保健品", "处方药", "网上买", "退货", "商家", "消费", "食物中毒", "拉肚子", "后厨",
                          "加油站少加", "促销", "lift", "elevator", "refund", "restaurant", "shop", "bought", "food", "水果店", "烂水果", "吃了午饭", "吃完饭", "呕吐", "特种设备", "who checks that lifts", "baby formula", "labels", "gym", "membership", "register a small business", "business licence", "business license", "prepaid card", "beauty salon", "counterfeit", "fake", "expired", "overcharg", "scale", "supermarket", "price"),
    "human-resources": ("工资", "欠薪", "工钱", "社保", "失业保险", "养老金", "退休", "劳动合同", "加班", "辞退", "开除",
                        "劳动监察", "农民工", "包工头", "工伤", "童工", "招工", "灵活就业", "毕业生", "技能", "培训补贴",
                        "离职", "调岗", "人社", "高校毕业生", "生活补贴", "租房补贴", "介绍工作", "介绍费", "找工作", "salary", "employer", "overtime", "unemployment", "paid", "job", "job agency", "recruitment agency", "agency takes money", "unpaid wages", "labour contract", "labor contract", "social insurance", "pension", "work injury", "job fair", "labour bureau"),
    "health": ("医院", "医生", "护士", "诊所", "急诊", "看病", "挂号", "疫苗", "卫生服务中心", "卫生室", "病历", "免费体检",
               "家庭医生", "出生医学证明", "育儿补贴", "献血", "医美", "玻尿酸", "胃镜", "手术", "红包", "针头", "hospital",
               "clinic", "doctor", "vaccination", "emergency department", "injections", "体检", "体检报告", "健康证", "medical check", "health certificate", "手足口", "传染病", "hand, foot and mouth", "nurse", "nurses", "ward", "vaccine"),
    "medical-insurance": ("医保", "报销", "异地就医", "备案", "慢病", "门诊慢性病", "大病保险", "生育保险", "医保卡",
                          "医保电子凭证", "参保", "个人账户", "抗癌药", "医保目录", "垫付", "套医保", "虚开", "medical insurance",
                          "insurance card", "insurance premium", "pharmacy", "prescription", "特殊病种", "门特", "门诊特殊病", "insurance fund", "bill the insurance", "reimbursement"),
    "education": ("小学", "初中", "中学", "幼儿园", "老师", "班主任", "学区", "上学", "入学", "转学", "学籍",
                  "中考", "补课", "培训班", "培训机构", "办学许可", "校车", "食堂", "作业", "体罚", "助学金", "放学",
                  "school", "kindergarten", "enrol", "classes", "son's school", "校车司机", "国际学校", "international school", "public schools", "head teacher", "teacher", "tuition", "enrolment", "enrollment"),
    "civil-affairs": ("民政", "高龄补贴", "低保", "养老院", "流浪", "救助", "结婚登记", "离婚", "婚姻登记", "公墓", "墓",
                      "殡仪馆", "丧事", "残疾人", "留守儿童", "孤寡老人", "独居", "社会组织", "募捐", "慈善", "地名",
                      "门牌", "居家养老", "老年食堂", "homeless", "nursing home", "old age allowance", "elderly", "社工", "没人照顾", "瘫在床上", "养老", "welfare", "social worker", "care home", "allowance", "marriage registration", "funeral", "disability", "disabled"),
    "water": ("停水", "自来水", "水管", "爆管", "水压", "水质", "水费", "水表",
              "二次供水", "水箱", "消防栓", "阶梯水价", "漏水", "水位", "没水", "总管", "running water", "tap water", "water pipe",
              "water", "water bill", "water meter", "water pressure", "no water", "burst pipe", "water repair"),
    "power": ("停电", "电费", "电表", "电压", "电线", "电线杆", "变压器", "供电", "充电桩", "峰谷电", "光伏", "并网", "来电",
              "偷电", "电缆", "计划停电", "power", "electricity", "charging point", "power cut", "no power", "blackout", "electricity bill", "power repair", "transformer", "power line"),
    "gas": ("燃气", "煤气", "天然气", "液化气", "气瓶", "气罐", "漏气", "燃气费", "燃气表", "报警器", "燃气管道", "通气",
            "煤气灶", "停气", "gas", "gas bill", "gas meter", "gas company", "gas repair"),
    "natural-resources": ("不动产", "房产证", "产权", "登记中心", "规划", "山体", "滑坡", "挖矿", "基本农田", "占用",
                          "宅基地", "土地征收", "土地使用", "征收", "建房", "围垦", "滩涂", "砍树", "地面", "裂缝", "挡土墙", "海岸线", "测绘",
                          "抵押登记", "继承", "property title", "landslide", "hillside", "farmland", "山坡", "落石", "石头滚下来", "采石", "采矿", "挖山", "mining", "slope", "rocks", "property registration", "property certificate", "title deed", "land use"),
    "emergency-management": ("应急", "危险化学品", "危化品", "易燃易爆", "烟花爆竹", "安全生产", "安全员", "防护", "塔吊",
                             "高空作业", "避难", "台风", "防汛", "沙袋", "救援", "通知消防", "转移", "涨上来", "漫到", "起火", "着火", "矿山", "放炮",
                             "化工厂", "泄漏", "小作坊", "储存油品", "typhoon", "shelter", "flammable", "chemicals",
                             "rescue", "flooding", "fireworks", "烟花", "消防审批", "消防安全", "消防检查", "fire safety", "safety inspection", "evacuation", "evacuate"),
    "agriculture": ("种粮", "种粮补贴", "农机购置补贴", "电鱼", "种子", "农资", "休渔", "渔船", "病死猪", "农技", "大棚", "草莓", "病虫害",
                    "土地流转", "化肥", "农药", "庄稼", "禽流感", "养鸡", "稻子", "家庭农场", "高标准农田", "养的猪", "清栏", "农机", "收割机",
                    "渔民", "柴油补贴", "野猪", "防疫证明", "养猪", "羊", "分红", "村集体", "grain", "fertiliser",
                    "crops", "fish", "farm", "electric shocks", "fishing", "farm adviser", "livestock", "pigs", "farmer", "farmers"),
    "tax": ("税", "个税", "退税", "发票", "开票", "偷税", "漏税", "契税", "增值税", "纳税", "办税", "汇算", "专项附加扣除",
            "车辆购置税", "房产税", "清税", "定期定额", "tax", "invoice", "不走账", "现金发工资", "tax refund", "taxes"),
    "subdistrict-office": ("社区", "居委会", "街道办", "村委会", "村务", "网格员", "调解", "邻居", "楼道", "杂物", "证明",
                           "健身器材", "长椅", "鸽子", "快递柜", "议事会", "换届", "居住证明", "开具", "公共绿地",
                           "community office", "neighbourhood committee", "corridor", "neighbours", "mediate",
                           "residence certificate", "grid worker", "community worker", "residents' committee", "neighbour", "neighbor"),
}

# Domain words worth repairing by sound when misheard (besides every gazetteer name).  Kept
# short on purpose: repairing towards common words (老师) would corrupt ordinary speech (老是).
REPAIR_TERMS: tuple[str, ...] = (
    "路灯", "井盖", "窨井盖", "燃气", "煤气", "天然气", "液化气", "漏气", "停电", "停水", "漏水", "积水", "电梯",
    "物业", "违建", "违章建筑", "占道经营", "摊贩", "红绿灯", "信号灯", "公交", "出租车", "网约车", "垃圾桶",
    "下水道", "自来水", "水管", "电线", "变压器", "社保", "医保", "医保卡", "低保", "欠薪", "噪音", "油烟",
    "排污", "污水", "派出所", "身份证", "户口", "发票", "个税", "不动产", "房产证", "宅基地", "滑坡", "养老院",
    "幼儿园", "学区", "疫苗", "诈骗", "窨井", "城管", "交警",
)


# -- explicit request types (scope.md §1.5) ---------------------------------------------------
# What the classifier learns about types is mostly what a phrasing looks like; a caller who says
# what kind of call this is (我要表扬 / 举报 / 提个建议) has decided it, and a person in danger
# now is a call for help whatever else is said.  These rules overrule the classifier.
_NEG_BEFORE = r"(?<!不是)(?<!不是来)(?<!不是要)(?<!没有)(?<!不想)(?<!不)"
PRAISE_EXPLICIT = re.compile(
    _NEG_BEFORE + r"(表扬|点赞|送锦旗|感谢信|想(要)?(感谢|谢谢)|要(好好)?(感谢|谢谢)|特别感谢|非常感谢|真的(很)?感谢|"
    r"还(很)?感动|太感谢|感谢(一下)?(那位|这位|他们|她们|你们的|那个|这个)?(师傅|同志|民警|警察|医生|护士|司机|工作人员|网格员|大姐|小姑娘|小伙子|老师)|"
    r"谢谢(她|他|那位|这位)(?!们?(别|不要))|"
    r"want to (thank|praise|say thank)|(would|'d) like to (thank|praise|say thank)|to say thank you|"
    r"(praise|compliment)s? (for|to)|just (want|wanted) to thank|thank (the|a|our|your) |"
    r"(we are|we're|i am|i'm) (so |very |really )?(grateful|thankful)|很感激|非常感激|太感激|终于.{0,12}谢谢你们)", re.I)
SUGGESTION_EXPLICIT = re.compile(
    _NEG_BEFORE + r"(提(一)?个建议|我(想|要)?建议|有个建议|建议(你们|政府|有关部门|相关部门|能|可以|在|把|多|增加|加|设)|"
    r"(?:^|(?<=[\s，,。！？!?]))(?:(?:喂|你好|您好|嗯|那个)[\s，,]*)*建议(?!书)|"
    r"(a|my|one|small) suggestion|i (would |'d )?suggest|make a suggestion|it would be (better|nice|good|great|helpful) (if|to)|"
    r"\b(there|it|the \w+( \w+)?) should (have|add|offer|provide|open|put|be (more|an?|in))\b(?!.{0,30}\b(but|already|by now|fixed|weeks|days|months)\b)|"
    r"\bwhy (not|don't you|doesn't the|don't they) (add|put|open|have|make|offer)\b|\bwould be (great|nice|good|helpful) to have\b|"
    r"建议(搞|办|开|建|弄|增设|设置|安排|能|提前)|能不能(搞|办|开|建|弄|增设|多设|多开|多建)个|要是能(搞|办|开|建|多)|"
    r"could you (add|put|install|consider)|maybe (you could|put|add)|please (think about|consider)|"
    r"希望(物业|政府|社区|街道|学校|公交公司|有关部门|相关部门|你们)?(每|定期|能够?|可以|多|把|增加|开通|延长)(?!.{0,6}(处理|解决|查))|"
    r"(装|加|设|建|开|多放)(几|一|个).{0,6}好伐)", re.I)
REPORT_EXPLICIT = re.compile(r"(?<!上次)(?<!之前)(?<!不是)(我要举报|我举报|要举报|实名举报|举报一下|想举报|"
                             r"i (want|would like|'d like) to report|i'm reporting)", re.I)
COMPLAINT_EXPLICIT = re.compile(r"(?<!上次)(?<!之前)(?<!不是)(?<!不是来)(?<!不是要)(我要投诉|我投诉|要投诉|想投诉|投诉一下|"
                                r"i (want|would like|'d like) to (make a )?complain|i'm complaining)", re.I)
# Someone at risk now: the caller, family, a neighbour or a stranger in front of them.
PERSON_AT_RISK = re.compile(
    r"(救命|快来人|我出不去|出不去|下不去|困在|被困|关在里面|关牢|躲在|人还在上面|躺着|昏迷|晕倒|不省人事|流血|见血|"
    r"(人|老人|老人家|他|她|老头|阿婆|阿姨).{0,4}倒在|倒在地上|摔倒|人不见了|就不见了|(孩子|小孩|老人|儿子|女儿)不见了|找不到(孩子|小孩|人|老人|她|他)|走丢|走失|没回家|没回来|联系不上|打不通|没人应|不开门|发抖|在吐|"
    r"上吐下泻|拿着刀|拿刀|打我|叫我转|还在转|要跳|跳下来|没上来|落水|我家|我们家|家里|屋里|店里|"
    r"please help|help please|help me|can't get out|trapped|stuck in|missing|can't find|in my (kitchen|flat|home|apartment|house|room)|"
    r"at home|lying (on|in)|bleeding|unconscious|being scammed|transferring)", re.I)
COMPLAINT_MARKERS = re.compile(
    r"(又停|又没|又坏|老是停|经常停|每次都|一个月.{0,2}(三|好几|几|两)(次|趟|回)|不通知|没通知|占线|打不进|没人接|"
    r"没人管|也不管|不负责|态度|太慢|拖了|推来推去|投诉|again|every time|no notice|nobody answers)", re.I)


# A person in danger now (scope.md §1.5 求助 help): someone still inside a fire or a wreck, someone
# unconscious or collapsed, an elderly person living alone who does not answer, someone about to jump.
# Said as happening now (negated, feared or past mentions do not count: see :func:`urgent_cues`),
# the call is for help whoever is speaking and however angry they are (没人接 here is the mother's
# phone, not the hotline's).
PERSON_IN_DANGER_PATTERNS: tuple[str, ...] = (
    r"(人还在|还有人在|有人还在|还有.{1,3}个?人在?)(里面|里头|屋里|车里|船上)(?!.{0,2}(抽烟|干活|上班|工作|吃饭|走|住|烧菜|做生活))|(里面|里头|屋里|车里|船上).{0,4}(还有人(?!.{0,2}(抽烟|干活|上班|工作|吃饭|走|住|烧菜|做生活))|有人在喊|有人在叫|有人在咳)|"
    r"还有.{1,3}个?人(没出来|没撤|出不来)|有人(没出来|出不来|卡在|卡住)|卡在(里面|车里)",
    r"(晕过去|晕倒|昏倒|昏过去|昏迷|不省人事|站不起来|躺在地上不动|人躺在地上|躺着不动|口齿不清)|"
    r"(人|老人|老头|老太|阿姨|阿婆|小孩|孩子|男的|女的|他|她).{0,6}倒在地上",
    r"(一个人住|独居|孤寡|住在老房子).{0,60}(没人接|不接|联系不上|打不通|不开门|没开门|没动静|没人应|没打)",
    r"(要跳楼|要跳下去|想跳|往下跳|坐在.{0,12}(栏杆|护栏|窗台)|翻到.{0,4}(栏杆|护栏|窗)外)",
    r"\b(still|are) (inside|in there|trapped)\b|\bsomeone (is )?(inside|trapped|stuck)\b|\bpassed out\b|\b(he|she|they|someone|person|man|woman|guy|kid|child|rider|driver)\b.{0,30}\bnot moving\b|"
    r"\bunconscious\b|\b(might|going to|about to|wants to|threatening to) jump\b|\bsitting on the (railing|ledge|edge)\b|"
    r"电梯.{0,8}(困住|困了|困着|关了|关着|关住|关牢|卡住|卡在|出不来)|(困|关)在电梯|"
    r"\b(i'm|i am|we're|we are|someone is|people are|he is|she is|kids are)\b.{0,12}\b(in|inside) (the|a|our|this) (lift|elevator)\b.{0,30}\b(stopped|stuck|won't open)\b|"
    r"\b(stuck|trapped) in (the|a|our|this) (lift|elevator)\b",
    r"(孩子|小孩|囡囡|儿子|女儿|宝宝|我爸|我妈|老爸|老妈|老人|爷爷|奶奶|外婆|外公|阿爷|阿娘).{0,10}(不见了|走丢|走失|找不到了|还没回来|还没回家|还没到)|"
    r"(放学|出门|出去).{0,16}(到现在|现在).{0,6}(还没|都没|没)(到|回)|"
    r"\b(son|daughter|child|kid|mum|mom|dad|father|mother|grand\w+)\b.{0,30}\b(is missing|went missing|hasn't come home|not come home|can't be found)\b",
    r"\bpale and floppy\b|\b(left|walked out of) the house\b.{0,40}\b(dementia|pyjamas|hour)",
)
PERSON_IN_DANGER = compile_patterns(PERSON_IN_DANGER_PATTERNS)


def person_in_danger(low: str) -> bool:
    """Someone is in danger now and needs someone to come (PERSON_IN_DANGER, said as present)."""
    return bool(urgent_cues(low, PERSON_IN_DANGER)) and not NOBODY_IN_DANGER.search(low) \
        and not _WHAT_IF_QUESTION.search(low) and not _ALL_OVER.search(low)


# 找到了, 回来了, 没事了, 以为走丢了: the danger told is over or never was.
_ALL_OVER = re.compile(r"(找到了|找到的|那天|找回来了|寻着了|自己回来了|已经回来了|救出来了|已经没事了|没事了|以为|劝下来了|"
                       r"\b(found (him|her|them)|came back|got (him|her|them|me) out|is (fine|ok|okay) now)\b)", re.I)


# 万一…怎么办 / what if … what should we do: the whole call is a what-if question, across its pauses.
_WHAT_IF_QUESTION = re.compile(r"(万一|如果|要是|假如|假设|\bwhat if\b|\bif\b).*(怎么办|咋办|\bwhat (should|do|can) (i|we)\b)", re.I)


# A fault in the power network's own kit (a meter box, a substation, a transformer, a line) seen
# smoking, sparking or down outside anyone's home is a report (scope.md §1.5: a public hazard,
# nobody waiting to be rescued); an outage of a whole building stays help.
PUBLIC_FIXTURE_HAZARD = re.compile(
    r"(电表箱|电箱|配电箱|配电房|配电间|变压器|电线杆|电线|电缆|高压线|电塔).{0,10}(冒烟|冒黑烟|着了|着火|起火|火花|火星|闪|掉|断|垂|倒|拖|泡|烧)|"
    r"\b(meter box|electric(al)? box|power (line|cable)s?|transformer|live wire|cables?)\b.{0,40}\b(smok\w*|spark\w*|fell|fallen|down|hanging|burning|on fire)\b", re.I)
OUTAGE = re.compile(r"(停电|没电|断电|跳闸|\bno (power|electricity)\b|\blost power\b|\bpower (cut|outage|is out|went)\b)", re.I)


# A grievance put as a question (scope.md §1.5 step 4): the caller is the aggrieved one — a bill or a
# rate that went up or is too low, a share they were left out of, unfair treatment, an application
# unanswered — and wants it put right; not a request for information.
GRIEVANCE_QUESTION = re.compile(
    r"(怎么(突然)?(这么|那么)(高|低|贵|多|少)|怎么(突然)?涨价|(为什么|为啥|凭什么)(没有|不给|我家没|要我|只)|不公平|也没听说|"
    r"一点回音|没个准|(?<!不)要我(们)?(自己)?出钱|"
    r"\bwhy (is|are|did|do|does) .{0,30}(so high|so expensive|so low|go up|gone up|double)|\bnot fair\b|\bunfair\b)", re.I)
ASKS_FOR_INFORMATION = re.compile(r"(我想问|想问一下|想问问|请问|咨询一下|咨询|\bi (want|would like|'d like) to (know|ask)\b)", re.I)

# An outage or fault told as happening again, unannounced or unanswered is a complaint (scope.md §1.5:
# "又停水了"), even when it is a whole building's.
REPEATED_GRIEVANCE = re.compile(r"(又停|又没|又坏|今天又|老是停|经常停|每次都|一个月.{0,2}(三|好几|几|两|五)(次|趟|回)|"
                                r"占线|打不进|没人接|谁赔|again and again|every time|\bno (water|power|electricity|gas) again\b|"
                                r"\b(second|third|fourth|fifth) time (this|in a) (week|month)\b|\btimes this (week|month)\b|\bwithout (any )?notice\b|"
                                r"\bno notice\b)", re.I)
# A question for information (scope.md §1.5 consultation) ...
CONSULT_ASK = re.compile(
    r"(我想问|想问一下|想问问|问一下|请问|咨询一下|这个找谁|找谁(办|问|管)?$|找哪里|找哪个部门|去哪里(办|弄)|哪里可以|"
    r"有没有.{0,6}(减免|补贴|政策|规定|优惠|办法)|要不要(交|预约|办|带|申请|烧开)|能不能.{0,8}(申请|办理|补交|报销|用|直接|申报|单独)|"
    r"正常吗|是真的假的|怎么(申请|办理|补办|算的|合并|过户|交)|多久|什么规定|有什么规定|"
    r"^(hi|hello|hey|good (morning|afternoon|evening))?[, ]*(is|are|can|could|does|do|how|what|where|when|why|who)\b.*\?$|"
    r"\b(can|do|does) (i|a foreigner|foreigners|the)\b.{0,60}\?|\bis (it|the) .{0,40}(allowed|safe|normal)\b|"
    r"\bwho is responsible for\b|\bwhat should i (prepare|bring|do to)\b|\bis there an? .{0,30}(place|office|service|near)\b|"
    r"\bdoes the \w+ (bureau|office|department|centre|center)\b|"
    r"^(hi|hello|hey|good (morning|afternoon|evening))?[, ]*(can i|can we|do i|do we|how do i|how can i|where (can|do) i|"
    r"what (do|should) i|is it (ok|okay|allowed|possible))\b|"
    r"几点|怎么(换|改|查询|才能)|(好|可以|能|要).{0,8}伐[？?]?$)", re.I)
# ... unless it is a grievance put as a question (这合理吗, 谁赔, who checks this) or asks for action.
CONSULT_NOT = re.compile(
    r"(投诉|举报|反映一下|态度|太慢|凭什么|合理吗|不像话|谁赔|要求|退钱|不给|不肯|不是.{0,10}吗|有人管|谁来(修|管)|"
    r"是不是骗|派人|派个|来修|来看|来查|来处理|管一管|处理一下|查一下|帮我|帮帮|赶紧|快点|please (send|fix|come|check)|"
    r"could (someone|you) (check|come|send|fix)|who checks|complain|本来想问)", re.I)


# Praise said without 表扬/感谢 (scope.md §1.4): a member of staff named, then what they did well, and
# no grievance in the call.  A dispatcher hears 办事真快 / 很耐心 / really great as praise.
_STAFF = (r"(小伙子|小姑娘|师傅|工作人员|民警|警察|交警|城管|医生|护士|书记|队员|司机|老师|网格员|社工|阿姨|大姐|"
          r"\b(worker|staff|officer|police(man|woman)?|driver|nurse|doctor|engineer|teacher|guard|clerk|lady|guy)s?\b|"
          r"中心|窗口|登记中心|派出所|办事)")
_WELL_DONE = (r"(很耐心|特别耐心|非常耐心|态度(很|特别|非常)?好(?!差|凶|坏)|(很|特别|非常)客气|一次就办好|一次就办成|(办事|办得|服务)(真的|很|特别|非常)?快|"
              r"(很|特别|非常)热情|(很|特别|非常)负责|浑身湿透|淋湿|跑了(好几|五六|三四|两三|几)趟|现在好多了|真的快|"
              r"\b(very|so|really|super|extremely) (friendly|helpful|patient|kind|nice|professional|quick|fast|great)\b|\breally great\b|"
              r"\bwent out of (his|her|their) way\b|\bin (just )?(two|three|an?|one) hours?\b.{0,20}\b(great|quick|fast)\b)")
PRAISE_IMPLICIT = re.compile(_STAFF + r".{0,50}" + _WELL_DONE, re.I)
PRAISE_NOT = re.compile(r"(但是|可是|不过|就是太|结果|态度差|好差|不耐烦|太慢|没人|不管|投诉|没办成|都没|让我跑|叫我跑|骂|\bbut\b|\bhowever\b|\brude\b|\bslow\b|"
                        r"\bcomplain|\bnever\b|\bstill\b|\brefus)", re.I)


# Praise said as its outcome (scope.md §1.4): thanks or admiration without 表扬/感谢 — really grateful,
# 处理得很快, so patiently, 比自己家里人还上心, 风雨无阻 — with no grievance in the call.
PRAISE_OUTCOME = re.compile(r"(\b(really|so|very|truly) (grateful|thankful)\b|\breally great\b|\bso patiently\b|\b(explained|helped)\b.{0,40}\bpatiently\b|"
                            r"处理得(真|很|特别|非常)?快|(很|特别|非常|还)上心|风雨无阻|放心多了|一夜没(睏|睡|合眼))", re.I)


# A danger over before the call and a question after it (scope.md §4 already over; §1.5 step 5): 后来自己回来了
# 想问下怎么预防, she called back — can I set up a daily check: a consultation, not a call for help.
RESOLVED_THEN_ASKING = re.compile(r"(后来(自己)?(回来了|找到了|发现是)|已经找(到|回来)了|自己回来了|\b(she|he|they) called back\b|\bcame back home\b|"
                                  r"去看过了|挺好的|不好意思麻烦|以为.{0,6}(走丢|丢了|漏气))", re.I)


# Repairs promised and not coming (scope.md §1.5 step 4: 修得慢 is a complaint): the caller is aggrieved by
# the service, not waiting to be rescued.
SLOW_REPAIR = re.compile(r"((师傅|电工|工人|维修的|修的人|供电的|供电局|燃气公司|自来水公司|水务|物业).{0,10}(一直没来|也不来|还没来|都没来|没个准)|"
                         r"说(马上|就)(来|到).{0,12}(还没|没|都没)来|报修.{0,12}(一个礼拜|好几天|几天|三天|两天|一个星期)|"
                         r"\b(repairman|technician|engineer|they)\b.{0,30}\b(still (hasn't|haven't) (come|shown up)|never (came|showed up))\b)", re.I)


def explicit_type(low: str, danger_now: bool, predicted: str | None) -> str | None:
    """The request type a caller has made explicit (scope.md §1.5), or None to keep the classifier's:
    praise said as praise; a report or complaint announced; a suggestion offered; a person in
    danger now (``danger_now``: :func:`urgent_cues` found a present danger) who needs someone to
    come, unless the call is a complaint about it happening again or going unanswered."""
    if PRAISE_EXPLICIT.search(low):
        return "praise"
    if not danger_now and PRAISE_IMPLICIT.search(low) and not PRAISE_NOT.search(low):
        return "praise"
    if USE_PERSON_RULES and not danger_now and PRAISE_OUTCOME.search(low) and not PRAISE_NOT.search(low):
        return "praise"
    if REPORT_EXPLICIT.search(low):
        return "report"
    if COMPLAINT_EXPLICIT.search(low):
        return "complaint"
    if SUGGESTION_EXPLICIT.search(low):
        return "suggestion"
    if USE_PERSON_RULES and predicted in ("help", "complaint", "report", "consultation") and RESOLVED_THEN_ASKING.search(low) \
            and not person_in_danger(low):
        return "consultation"   # the danger was over before the call; what is left is a question
    if USE_PERSON_RULES and predicted in ("complaint", "report", "consultation") and person_in_danger(low):
        return "help"        # someone in danger now needs someone to come, whatever else is said
    if danger_now and predicted in ("complaint", "report", "consultation") and PERSON_AT_RISK.search(low) \
            and not COMPLAINT_MARKERS.search(low):
        return "help"
    if USE_PERSON_RULES and danger_now and predicted == "help" and PUBLIC_FIXTURE_HAZARD.search(low) \
            and not OUTAGE.search(low) and not PERSON_AT_RISK.search(low) and not person_in_danger(low):
        return "report"      # a hazard seen in a public place, nobody waiting to be rescued
    if USE_PERSON_RULES and predicted == "help" and NOBODY_IN_DANGER.search(low) and not danger_now:
        return "report"      # 没人被困 / nobody is stuck: a hazard pointed out, nobody waiting to be rescued
    if USE_PERSON_RULES and predicted == "help" and SLOW_REPAIR.search(low) and not person_in_danger(low):
        return "complaint"   # 供电的说马上来 到现在还没来: the repair is slow, nobody to rescue
    if predicted == "help" and REPEATED_GRIEVANCE.search(low) and not PERSON_AT_RISK.search(low) \
            and not (USE_PERSON_RULES and person_in_danger(low)):
        return "complaint"   # 又停水了, 每次都不通知, 电话一直占线: a grievance, nobody to rescue
    if USE_PERSON_RULES and predicted == "consultation" and GRIEVANCE_QUESTION.search(low) \
            and not ASKS_FOR_INFORMATION.search(low):
        return "complaint"   # 水费怎么突然涨价了, 分红我家为什么没有: a grievance put as a question
    if USE_CONSULT_RULE and not danger_now and predicted in ("complaint", "report", "help") and CONSULT_ASK.search(low.strip()) \
            and not CONSULT_NOT.search(low):
        return "consultation"
    return None


USE_CONSULT_RULE = True
USE_PERSON_RULES = True


# -- who answers a present danger (scope.md §3) ---------------------------------------------
# When a call tells of a danger happening now, the policy names the department that answers it,
# whatever else the call is about (a danger always becomes the main topic, §1.1).  First match
# wins; a match in a negated, feared or past clause does not count (as for urgency).
DANGER_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("power", r"(整栋|整幢|整个楼|一整栋|\bwhole building\b|\bentire building\b).{0,30}(停电|没电|断电|lost power|power (went|is|was) (off|out)|no power).{0,40}(电梯|\blift\b|\belevator\b)|"
              r"(停电|没电|\bpower (went|is|was) (off|out)\b|\blost power\b).{0,12}(整栋|整幢|\bwhole building\b|\bentire building\b).{0,40}(电梯|\blift\b|\belevator\b)|"
              r"电线.{0,6}(掉|垂|断|裸露|漏电|横在|耷拉|冒火|打火)|冒火花|打火花|冒火星|"
              r"(变压器|变电箱|配电箱|电箱|电表箱|电缆|电线|插座).{0,8}(冒烟|着火|起火|爆|烧(?!出来|电线))|"
              r"(power (cable|line)|live wire|electric(al)? (cable|wire)|transformer)s?\b.{0,40}(spark|smok|fell|fallen|down|fire|burning)|"
              r"\bsparking\b"),
    ("market-regulation", r"电梯.{0,8}(困|关住|关牢|卡住|卡在)|(困|关)在电梯|"
                          r"\b(lift|elevator)\b.{0,40}\b(stuck|trapped)\b|\b(stuck|trapped) in (the|a|our) (lift|elevator)"),
    ("gas", r"(煤气|燃气|天然气|液化气)(味|泄漏|漏气|漏)|(液化气|煤气|燃气|气)(罐|瓶|管|灶).{0,6}(着火|起火|爆)|漏气|闻到.{0,4}(煤气|燃气)|gas (leak|smell)|smell(s|ing)? (of )?gas|"
            r"smell gas|gas is leaking"),
    ("emergency-management", r"(?<!不)着火|起火|火灾|烧起来|浓烟|火苗|爆炸|(危化品|危险化学品|化工品|化学品|罐车|罐子).{0,10}(泄漏|漏|冒烟|冒白烟)|"
                             r"被洪水|(船|渔船).{0,6}(翻了|沉了|吹翻|打翻)|落水|没上来|(下穿|涵洞|桥洞|隧道).{0,16}(困|熄火|出不去)|(困|熄火).{0,10}(下穿|涵洞|桥洞|隧道)|"
                             r"\bflames\b|\bon fire\b|\bexplosion\b|smoke (is )?filling|"
                             r"\b(a|the) fire\b(?! (lane|exit|door|escape|extinguisher|hydrant|alarm|station|safety|hazard|engine|risk))|flooded (underpass|tunnel).{0,40}(stuck|trapped|roof)|"
                             r"(stuck|trapped).{0,30}flood|\bcaught fire\b|(炼化|化工厂|化工园区|石化|储罐).{0,20}泄漏|泄漏.{0,12}(刺鼻|眼睛|呛)|\bfull of smoke\b|"
                             r"(水|洪水).{0,10}(漫|涨|淹).{0,20}(被困|困在|出不来|下不去)|(被困|困在).{0,12}(洪水|水里|水中)"),
    ("public-security", r"要跳楼|(?<!又)(?<!闸)跳下来|要跳下去|(threatening|going|wants?) to jump|拿了刀|持刀|拿着刀|拿刀|打架|砸门|冲进来|打我|家暴|在打人|"
                        r"走丢|走失|(孩子|小孩|儿子|女儿|宝宝).{0,16}(不见了|没回来|没回家|找不到)|一转身就不见|"
                        r"找不到(孩子|小孩|我爸|我妈|我奶奶|我爷爷|女儿|儿子)|(孩子|小孩|女儿|儿子)找不到了|"
                        r"(老年痴呆|失智).{0,30}(出去|没回来|没回家|找不到)|(出去|出门).{0,12}(没回来|没回家|还没回)|"
                        r"(独居|孤寡|一个人住|一个人在家).{0,30}(联系不上|不开门|没开门|没出门|没动静|打不通|不接|没人应|没看到)|"
                        r"(儿子|女儿|孩子|小孩|宝宝|婴儿).{0,10}(在车里|在后座|锁在)|(锁在|关在)车里.{0,12}(孩子|小孩|儿子|女儿|宝宝)|"
                        r"安全账户|叫我转|还在叫我转|being scammed|pretending to be (the )?police|safe account|"
                        r"(can't|cannot) find (her|him|my)|(missing|lost) (child|boy|girl|kid|son|daughter)|"
                        r"\b(son|daughter|child|kid|boy|girl)\b.{0,16}\bmissing\b|"
                        r"\b(fight|fighting|stabbed|stabbing|knife|attacking|beating (him|her|them|his|a))\b|"
                        r"(让|要|叫)我.{0,4}(继续)?转(钱|账)|让我继续转|(让|要|叫)我把.{0,10}转|把钱转到|要我转|"
                        r"到现在(还|都|也)?(没|没有)(找到|回来|回家)|(撬|砸|踹)(我家|我们家)的?门|"
                        r"\b(lost|can't find|cannot find) my (little )?(son|daughter|child|kid|boy|girl|grand\w+)\b|"
                        r"\b(dementia|alzheimer'?s)\b.{0,40}\b(walked|wandered|went) (out|off|away)\b"),
    ("civil-affairs", r"(流浪|乞讨|睡在地上|露宿|蜷在|homeless|sleeping (outside|on the))[^。]{0,40}(冷|冻|零下|结冰|发抖|freezing|cold)|"
                      r"(冷|冻|零下|结冰|freezing).{0,30}(流浪|乞讨|睡在地上|露宿|homeless|sleeping (outside|on))|"
                      r"(桥洞|桥下|路边|街上|地下通道|公园|门口).{0,16}(冻得|发抖|冻僵|冻坏)|\bsleeping outside\b.{0,60}\b(freezing|cold)\b"),
    ("market-regulation", r"(吃了|吃完|吃过|吃的).{0,12}(呕吐|在吐|吐了|又吐|拉肚子|上吐下泻|肚子疼)|(食堂|餐馆|饭店|外卖|酒席).{0,20}(又吐又拉|上吐下泻|食物中毒)|食物中毒|food poisoning"),
    ("traffic-police", r"(车祸|撞|追尾).{0,20}(受伤|流血|躺着|躺在|不动|飞出去|昏迷|卡在|困在|出不来|起不来)|"
                       r"\b(hit|knocked (off|down)|crash\w*|collision|run over)\b.{0,50}\b(bleeding|lying|not moving|unconscious|trapped|stuck)\b|红绿灯.{0,6}(全|都)(坏|不亮|灭)|"
                       r"信号灯.{0,6}(全|都)(坏|不亮|灭)"),
    # the further present-danger families (E18i), where the policy names who answers them
    ("market-regulation", r"(电梯|电题).{0,10}(两层中间|楼中间|层中间|掉到|往下掉|下坠|坠落)|\b(lift|elevator)\b.{0,40}\b(between (floors|two floors)|dropped|plunged)\b"),
    ("gas", r"像(煤气|液化气|燃气)|(燃气管|煤气管|天然气管|气管).{0,8}(挖破|破了|断了|裂了|挖断|撞坏)|(液化气|煤气|燃气|然气|天然气).{0,6}(那种)?(味道|气味|味好重)|"
            r"阀门.{0,4}关不(牢|住|上|紧)|\bsmell\w*( \w+){0,3} like gas\b|\bgas (leek|leak)\w*"),
    ("water", r"(水管|自来水管|总管|主管道|消防栓|消火栓).{0,8}(爆|撞断|撞坏|撞了|破了|裂了|断了).{0,20}(喷|冲|哗哗|淹|灌|冒)|"
              r"\b(water (main|pipe)|hydrant)\b.{0,30}\b(burst|broke|broken|knocked)\b.{0,40}\b(gushing|spraying|flooding|pouring)\b"),
    ("emergency-management", r"掉(到|进|下|入)?(了)?(河|江|湖|海|池塘|冰窟窿)(里|中)?|(河|江|湖|海|冰|池塘|河埠头|步道).{0,12}掉下去了|"
                             r"被(浪|潮水|洪水).{0,2}(卷走|冲走|围住)|潮水围住|游泳出不来|(罐区|反应釜|储罐).{0,12}(漏|泄|冒)|"
                             r"\b(fell|fallen|slipped) (in|into|off) (the )?(river|lake|sea|water|canal|pond|boardwalk)\b|\bdrown\w*|\bswept (away|out)\b"),
    ("public-security", r"(要|想|说要|要往下|往下)(跳|跳河|跳江|跳海|跳楼|轻生|自杀)|跳(河|江|海|楼)|翻到.{0,4}(栏杆|护栏|窗)外|跨出去|"
                        r"不想活|想不开|寻死|(喝|吃)(了)?(农药|安眠药)|割腕|"
                        r"(拿着|拿了|举着|抄起)(啤酒瓶|酒瓶|砖头|板凳|凳子|棍子|铁棍|砍刀|菜刀)|砸人|打起来|被(她|他)?(老公|老婆|男的|人)打|抢.{0,3}包|被人围着打|"
                        r"\bkill (him|her|my)self\b|\bsuicid\w*|\b(he|she)('ll| will) jump\b|\bbeating (a|the|his|her)\b|\brobbing\b"),
)

def policy_department(text: str, compiled) -> str | None:
    """The department a hard-case family (:data:`POLICY_DEPARTMENTS`) names for the matter told in
    ``text``, or None.  The matter decides whether it is happening now, feared, habitual or past (a
    question about illegal parking is still the traffic police's), so no clause filter applies."""
    for department, pattern in compiled:
        if pattern.search(text):
            return department
    return None


def danger_department(text: str, compiled) -> str | None:
    """The department scope.md sends a present danger told in ``text`` to, or None.

    ``compiled``: ``[(department, pattern)]`` from :data:`DANGER_DEPARTMENTS`, compiled once."""
    for department, pattern in compiled:
        if urgent_cues(text, [pattern]):
            return department
    return None


# Words whose matter has one department whatever the call's wording (scope.md §2): gambling dens,
# drugs and pyramid selling are public security's, practising medicine without a licence health's,
# illegal mining natural resources'.  Applied like a present danger's department (first match).
REMIT_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("public-security", r"赌博|赌钱|赌资|赌场|聚赌|聚众赌|吸毒|贩毒|卖淫|嫖娼|传销|办假证|假证件|gambling den|drug dealing"),
    ("health", r"无证行医|非法行医|黑诊所|没有行医资格|unlicensed (doctor|clinic)"),
    ("natural-resources", r"非法采矿|偷采|盗采|偷挖.{0,4}(矿|沙|石)|采石场|illegal mining"),
)


# The hard cases of scope.md §2-3 said as families of words a dispatcher would name: a matter whose
# department the policy fixes whatever else the wording suggests (a night-time 工地 is not public
# security's because it is 半夜; English teachers' unpaid wages are human resources', not education's).
# Applied to the main topic after the present dangers and REMIT_DEPARTMENTS, first match wins, in
# the same negated/feared filter; each family's precision where it fires is measured on every labeled
# set (tests/intake/test_policy.py checks the families, README Intake gives the figures).
_INDUSTRIAL_NOISE = (r"(厂|车间|厂房|作坊|化工|炼化).{0,16}(机器|冲床|冲压机|压机|机床|风机|设备).{0,12}(响|吵|噪|轰|哐|咚|睡不着)|(工厂|厂里|厂子).{0,10}(噪音|噪声|轰轰)|"
                     r"\b(factory|plant|mill)\b.{0,40}\b(noise|noisy|machines|banging|humming)\b")
_CONSTRUCTION_NOISE = (r"(工地|施工|打桩|搅拌|塔吊|浇混凝土|浇筑|在建).{0,16}(噪|吵|响|轰|咚|哐|声音)|(半夜|深夜|夜里|晚上|凌晨).{0,12}(施工|打桩|工地|浇混凝土|浇筑|卸钢筋)|"
                       r"\b(construction|building site|pile[- ]driv\w*)\b.{0,60}\b(noise|noisy|loud|banging|all night|at night|midnight|pile[- ]?drive\w*|can'?t sleep)\b")
_COOKING_FUMES = r"油烟|(烧烤|烤串|撸串)(摊|店|摊子).{0,20}烟|\bkitchen (exhaust|fumes)\b|\bcooking (fumes|smoke|smells?)\b|\bbarbecue (smoke|stalls?)\b"
_ILLEGAL_BUILDING = (r"违建|违章建筑|违章搭建|违法建房|私自搭建|楼顶加盖|加盖了?一层|阳台外扩|盖了(个|一)?(二|三|四|两)?层楼|"
                     r"\b(illegal|unauthori[sz]ed) (extension|structure|building|floor)\b|\bextra (floor|storey)\b.{0,30}\broof\b|"
                     r"\bbuilding (an? )?(extra )?(floor|storey|structure|shed) on (the|their|its) roof\b")
_ILLEGAL_PARKING = (r"(车|车子|汽车).{0,6}停在(人行道|盲道|消防通道外的马路|路口)|人行道.{0,6}(停车|停满|停了车)|违停|违章停车|"
                    r"\b(cars?|vehicles?|vans?|trucks?) ((are|were|is|get|keep) )?(park|parks|parked|parking) on the (sidewalk|pavement)\b|\billegal(ly)? park\w*\b")
POLICY_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    # lift safety (special equipment): shaking, inspection, certificate, a past trapping → market regulation
    ("market-regulation", r"(电梯|扶梯).{0,12}(抖|晃|异响|年检|合格证|检验|安全隐患|困过人|关过人|溜梯|冲顶|蹲底|急停|逆行)|"
                          r"(年检|合格证|检验).{0,8}(电梯|扶梯)|\bescalator\b.{0,30}\b(shak|jerk|stop|trap)|"
                          r"\b(lift|elevator)s?\b.{0,30}\b(inspection|certificate|shak\w+|jerk\w+|judder\w*)\b"),
    # fake certificates and IDs → public security (fake goods stay market regulation's)
    ("public-security", r"假(证|文凭|学历|毕业证|身份证|驾照|驾驶证|护照|结婚证)|办证.{0,4}(电话|小广告)|办(各种|各类)证|(学历|文凭|证书).{0,8}包过|"
                        r"\bfake (university |college )?(diplomas?|degrees?|certificates?|id( cards?)?|driving licen[cs]es?|passports?)\b"),
    # household registration, ID cards, residence permits → public security (a 居住证明 is the community's)
    ("public-security", r"办(理)?居住证|居住证.{0,6}(怎么办|办理|申请|过期|续|签注|丢)|暂住证|暂住登记|户口(迁|登记|落户)|落户|"
                        r"身份证(丢|掉|补|办|换|过期|被)|"
                        r"\b(temporary )?residence (registration|permit)\b|\bhukou\b|\bregister (my|our) (residence|address)\b"),
    # wage arrears, also on building sites and at schools → human resources (not tax fraud said with 工资)
    ("human-resources", r"^(?!.*(偷税|逃税|漏税|tax)).*(欠薪|讨薪|拖欠.{0,6}(工资|工钱|薪水)|(工资|工钱|薪水).{0,12}(没发|不发|没给|不给|拖欠|欠着|一分没|拖了|拖着|拖到)|"
                        r"(没|不)(发|给|结)(我们)?(的)?(工资|工钱)|"
                        r"\b(hasn't|haven't|has not|have not|didn't|did not|never|not been) (been )?paid (us|me|our|my|the)\b|"
                        r"\bunpaid (wages|salar\w+|pay)\b|\bowes? (us|me)\b.{0,30}\b(wages|salar\w+|pay)\b|"
                        r"\b(wages|salar\w+)\b.{0,30}\b(not|never|hasn't|haven't) (been )?paid\b)"),
    # tax evasion and invoices → tax
    ("tax", r"偷税|逃税|漏税|不报个税|不交个税|不申报|(交|缴|报|扣)(什么|多少)?(个)?税|\b(pay|declare) (income )?tax\b|不开发票|不给开发票|开不了发票|假发票|现金发工资|不走账|\btax (evasion|fraud)\b|\bevad\w+ tax\b|\bfake invoices?\b"),
    # fishing bans and illegal fishing methods → agriculture (fisheries)
    ("agriculture", r"禁渔|休渔期|电鱼|炸鱼|毒鱼|绝户网|迷魂阵网|\b(illegal|electric|electro)[- ]?fishing\b|\bfishing ban\b"),
    # hazardous waste dumped → environment (stored hazardous chemicals stay emergency management's)
    ("environment", r"(危险废物|危废|废油|废液|废酸|化学品|危险品|油桶|铁桶|化工桶).{0,20}(倒|扔|堆在|埋|丢|偷排)|"
                    r"(偷倒|倾倒|乱倒|偷偷倒|往.{0,6}倒).{0,12}(危|化学|废液|废油|桶)|"
                    r"\bdump\w*\b.{0,30}\b(chemical|drums|barrels|waste oil|hazardous)"),

    # machine noise from a factory → environment (industrial noise; dispatch.yaml: Zhenhai, Beilun → EM)
    ("environment", _INDUSTRIAL_NOISE),
    # cooking fumes from restaurants → urban management (dispatch.yaml: Haishu → subdistrict office)
    ("urban-management", _COOKING_FUMES),
    # building on farmland → natural resources (占用耕地建房)
    ("natural-resources", r"占用?(耕地|农田|基本农田)|(农田|耕地|基本农田|田里|稻田).{0,8}(建房|盖房|造房|建厂|盖楼|搭建)|"
                          r"\bbuild\w*\b.{0,30}\b(on|in) (the )?(rice |paddy |farm ?)?(fields?|farmland|paddies)\b"),
    # illegal building in town → urban management (dispatch.yaml: the four counties → natural resources)
    ("urban-management", _ILLEGAL_BUILDING),
    # construction noise → housing by default (dispatch.yaml re-routes Haishu and Yinzhou)
    ("housing", _CONSTRUCTION_NOISE),
    # cars parked on the pavement or across a road → traffic police
    ("traffic-police", _ILLEGAL_PARKING),
    # debris dumped, paper money and rubbish burnt in the open → urban management
    ("urban-management", r"(装修垃圾|建筑垃圾|渣土).{0,12}(倒|扔|堆)|(乱倒|偷倒|倾倒).{0,6}(装修垃圾|建筑垃圾|渣土)|烧纸钱|烧纸|焚烧(垃圾|秸秆|树叶)|露天烧|烧电线|"
                         r"(dump\w*)\b.{0,20}\b(rubble|debris|construction waste)\b|\bburn\w* (rubbish|trash|leaves|paper money|garbage)\b"),
    # dead or sick livestock and poultry → agriculture (animal disease)
    ("agriculture", r"(死猪|病死猪|死鸡|死鸭|病死|死了好多(鸡|鸭|猪))|\bdead (pigs?|chickens?|ducks?|poultry|livestock)\b|\bbird flu\b|\bswine fever\b|"
                    r"土地流转|\b(rent|lease) (farm ?land|fields?)\b"),
    # typhoon and flood response: moving people and boats to safety → emergency management
    ("emergency-management", r"台风.{0,20}(转移|进港|避险|撤离|安置)|防台|防汛|避灾|避难场所|\bevacuat\w+\b|\btyphoon shelter\b"),
    # a tripped breaker, one household without power → power
    ("power", r"跳闸|空开.{0,8}(推不上|跳|合不上)|\b(circuit )?breaker\b.{0,20}\b(trip\w*|keeps|won't)\b|\btripp?(ed|ing|s)\b.{0,12}\bbreaker\b|\bfuse (blew|blown)\b"),
    # rabies shots, vaccines → health
    ("health", r"狂犬|\brabies\b|(孩子|小孩|宝宝|老人|我|女儿|儿子).{0,8}(打|接种).{0,4}疫苗|疫苗.{0,6}(接种|预约)|\b(my|our) (child|kid|son|daughter|baby)('s)? vaccin\w+\b"),
    # tutoring classes → education (off-campus training)
    ("education", r"补习班|培训班|校外培训|培训机构|辅导班|\btutoring\b|\bcram school\b"),
    # a stolen or lost number plate → traffic police
    ("traffic-police", r"车牌.{0,6}(被偷|丢了|掉了|补办|被人偷)|\b(licen[cs]e|number) plates?\b.{0,20}\b(stolen|lost|missing)\b"),
    # square dancing and neighbours' disputes → the subdistrict office
    ("subdistrict-office", r"广场舞|\bupstairs neighbou?r\b.{0,40}\b(leak\w*|water)\b|(楼上|隔壁|对门|邻居)(那户|人家|邻居)?.{0,12}漏水.{0,20}(不修|不管|不理|敲门|讲了)|"
                           r"\bsquare danc\w+\b"),
    # people stranded without money, begging, sleeping rough → civil affairs (assistance)
    ("civil-affairs", r"流浪(?!狗|猫|犬|动物)|乞讨|露宿|救助站|(钱|包|手机).{0,4}(被偷|丢了).{0,12}回不了家|回不了家.{0,10}(没钱|没吃)|"
                      r"\bhomeless\b|\bbegging\b|\brough sleep\w+|\bstranded\b.{0,30}\bmoney\b"),
)


# The category a hard-case family names, so the dispatch catalogue (dispatch.yaml) re-routes it per
# district: construction noise in Haishu and Yinzhou is urban management's, industrial noise in Zhenhai
# and Beilun emergency management's, cooking fumes in Haishu the subdistrict office's, illegal building
# in the four counties natural resources'.
POLICY_CATEGORIES: dict[str, str] = {
    _INDUSTRIAL_NOISE: "industrial-noise", _CONSTRUCTION_NOISE: "construction-noise",
    _COOKING_FUMES: "cooking-fumes", _ILLEGAL_BUILDING: "illegal-construction", _ILLEGAL_PARKING: "illegal-parking",
}
