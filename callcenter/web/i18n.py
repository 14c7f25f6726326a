"""The page text catalogue: every user-facing string, in Chinese and English.

Chinese is the default; ``?lang=en`` (remembered in a cookie) switches.
Templates call ``t("key")``; a missing key raises at render time in tests
rather than showing a raw key to a resident.
"""
from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

CATALOGUE: dict[str, dict[str, str]] = {
    "site.title": {"zh": "市民热线", "en": "Citizen hotline"},
    "site.lang_switch": {"zh": "English", "en": "中文"},
    "nav.dept": {"zh": "部门工单", "en": "Department queue"},
    "nav.agent": {"zh": "坐席工作台", "en": "Agent desk"},
    "nav.dispatch": {"zh": "派单台", "en": "Dispatch"},
    "nav.callbacks": {"zh": "回访", "en": "Callbacks"},
    "nav.wallboard": {"zh": "大屏", "en": "Wallboard"},
    "nav.supervisor": {"zh": "班长席", "en": "Supervisor"},
    "nav.reports": {"zh": "报表", "en": "Reports"},
    "nav.calls": {"zh": "实时通话", "en": "Live calls"},
    "nav.accounts": {"zh": "账号管理", "en": "Accounts"},
    "nav.restricted": {"zh": "限制呼入", "en": "Restricted callers"},
    "nav.audit": {"zh": "访问记录", "en": "Access log"},
    "nav.appraisal": {"zh": "考核", "en": "Appraisal"},
    "nav.knowledge": {"zh": "知识库", "en": "Knowledge"},
    "nav.analysis": {"zh": "数据分析", "en": "Analysis"},
    "nav.logout": {"zh": "退出", "en": "Log out"},
    "nav.login": {"zh": "登录", "en": "Log in"},
    "nav.signed_in_as": {"zh": "当前用户", "en": "Signed in as"},
    "nav.skip": {"zh": "跳到正文", "en": "Skip to content"},
    "nav.label": {"zh": "主导航", "en": "Main navigation"},
    "login.title": {"zh": "登录", "en": "Log in"},
    "login.username": {"zh": "用户名", "en": "User name"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Log in"},
    "login.failed": {"zh": "用户名或密码错误", "en": "Wrong user name or password"},
    "logout.done": {"zh": "您已退出", "en": "You are logged out"},
    "error.title": {"zh": "出错了", "en": "Something went wrong"},
    "error.csrf": {"zh": "表单已过期，请刷新后重试", "en": "The form expired; reload and try again"},
    "error.forbidden": {"zh": "无此权限", "en": "Not allowed for your role"},
    "error.not_found": {"zh": "页面不存在", "en": "Page not found"},
    "error.bad_request": {"zh": "请求有误", "en": "The request is not valid"},
    "error.back": {"zh": "返回", "en": "Back"},
    "dept.title": {"zh": "部门工单", "en": "Department work orders"},
    "dept.department": {"zh": "部门", "en": "Department"},
    "dept.empty": {"zh": "暂无待办工单", "en": "No open work orders"},
    "dept.number": {"zh": "工单号", "en": "Number"},
    "dept.status": {"zh": "状态", "en": "Status"},
    "dept.category": {"zh": "类别", "en": "Category"},
    "dept.summary": {"zh": "诉求", "en": "Summary"},
    "dept.address": {"zh": "地址", "en": "Address"},
    "dept.caller": {"zh": "来电人", "en": "Caller"},
    "dept.deadline": {"zh": "办理时限", "en": "Deadline"},
    "dept.sla": {"zh": "时限状态", "en": "SLA"},
    "dept.sla.green": {"zh": "正常", "en": "On time"},
    "dept.sla.yellow": {"zh": "即将超时", "en": "Due soon"},
    "dept.sla.red": {"zh": "已超时", "en": "Overdue"},
    "dept.sla.none": {"zh": "无时限", "en": "No deadline"},
    "dept.sla.paused": {"zh": "计时暂停", "en": "Clock paused"},
    "dept.start": {"zh": "开始办理", "en": "Start work"},
    "dept.filter": {"zh": "筛选", "en": "Filter"},
    "dept.all_open": {"zh": "全部在办", "en": "All open"},
    "dept.error": {"zh": "操作未完成", "en": "Not done"},
    "dept.no_actions": {"zh": "当前状态无可执行操作", "en": "Nothing to do in this status"},
    "dept.total": {"zh": "共", "en": "Total"},
    "dept.actions": {"zh": "操作", "en": "Actions"},
    "dept.open": {"zh": "查看", "en": "Open"},
    "dept.acknowledge": {"zh": "签收", "en": "Acknowledge"},
    "dept.return": {"zh": "退单", "en": "Return"},
    "dept.return.reason": {"zh": "退单原因", "en": "Reason for return"},
    "dept.return.note": {"zh": "说明", "en": "Note"},
    "dept.extend": {"zh": "申请延期", "en": "Request extension"},
    "dept.extend.days": {"zh": "延期工作日数", "en": "Extra working days"},
    "dept.extend.reason": {"zh": "延期理由", "en": "Reason for extension"},
    "dept.reply": {"zh": "回复", "en": "Reply"},
    "dept.reply.text": {"zh": "办理结果", "en": "Outcome for the caller"},
    "dept.history": {"zh": "办理记录", "en": "History"},
    "dept.description": {"zh": "详细描述", "en": "Description"},
    "dept.done": {"zh": "操作成功", "en": "Done"},
    "dept.back": {"zh": "返回列表", "en": "Back to the queue"},
    "dept.when": {"zh": "时间", "en": "When"},
    "dept.who": {"zh": "操作人", "en": "Who"},
    "dept.what": {"zh": "动作", "en": "Action"},
    "dept.why": {"zh": "说明", "en": "Note"},
}


def pick_language(query_value: str | None, cookie_value: str | None, accept: str | None = None) -> str:
    """The page language: explicit ``?lang=``, then the cookie, else Chinese."""
    for candidate in (query_value, cookie_value):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT


def translate(key: str, lang: str) -> str:
    try:
        entry = CATALOGUE[key]
    except KeyError:
        raise KeyError(f"i18n key {key!r} is not in the catalogue") from None
    return entry.get(lang) or entry[DEFAULT]


def missing_translations() -> list[str]:
    """Keys lacking a language (tests/web/test_i18n.py asserts this is empty with every feature loaded)."""
    return [k for k, v in CATALOGUE.items() if any(not v.get(lang) for lang in LANGUAGES)]
