"""Codes as people read them: one place that turns every code a page shows into its name.

Departments, categories and districts come from the taxonomy (``departments.yaml`` …); work-order
statuses and actions from the lifecycle; agent states, pause reasons, queues, IVR nodes, call
outcomes and roles from the catalogue entries below.  Templates use the ``name`` filter
(``{{ o.department|name('department') }}``); scripts get the same table from :meth:`Names.table`.
An unknown code is shown as it is (a queue or IVR node added by configuration without a name).
"""
from __future__ import annotations

from callcenter.web.i18n import CATALOGUE, DEFAULT

#: names of the codes that are not taxonomy or lifecycle data
TEXT = {
    # agent states (the ACD's AgentState values)
    "state.logged_out": {"zh": "未签入", "en": "Logged out"},
    "state.ready": {"zh": "空闲", "en": "Ready"},
    "state.ringing": {"zh": "振铃", "en": "Ringing"},
    "state.on_call": {"zh": "通话中", "en": "On call"},
    "state.wrap_up": {"zh": "话后整理", "en": "Wrap-up"},
    "state.paused": {"zh": "暂停", "en": "Paused"},
    # the ACD's queues (routing.queues.*)
    "queue.hotline-general": {"zh": "综合服务", "en": "General line"},
    "queue.hotline-urgent": {"zh": "紧急故障", "en": "Urgent faults"},
    # how a call left the queue / the IVR
    "outcome.answered": {"zh": "已接通", "en": "Answered"},
    "outcome.connected": {"zh": "已接通", "en": "Answered"},
    "outcome.abandoned": {"zh": "排队放弃", "en": "Abandoned"},
    "outcome.callback": {"zh": "预约回拨", "en": "Callback booked"},
    "outcome.overflow": {"zh": "溢出转队列", "en": "Overflowed"},
    "outcome.timeout": {"zh": "排队超时", "en": "Timed out"},
    "outcome.caller_hangup": {"zh": "来电人挂机", "en": "Caller hung up"},
    "outcome.error": {"zh": "系统错误", "en": "System error"},
    "outcome.transferred": {"zh": "已转接", "en": "Transferred"},
    "outcome.completed": {"zh": "已完成", "en": "Completed"},
    # history entries that are not lifecycle transitions
    "action.create": {"zh": "受理登记", "en": "Registered"},
    "action.merged-from": {"zh": "合并来单", "en": "Merged in"},
    "action.transcribed": {"zh": "录音转写", "en": "Recording transcribed"},
    # user roles
    "role.agent": {"zh": "话务员", "en": "Agent"},
    "role.dispatcher": {"zh": "派单员", "en": "Dispatcher"},
    "role.supervisor": {"zh": "班长", "en": "Supervisor"},
    "role.department": {"zh": "承办单位", "en": "Department staff"},
    "role.admin": {"zh": "管理员", "en": "Administrator"},
    # the nodes of the default IVR flow (ivr/flows/hotline.yaml)
    "ivrnode.welcome": {"zh": "欢迎语", "en": "Welcome"},
    "ivrnode.language": {"zh": "语种选择", "en": "Language choice"},
    "ivrnode.screen": {"zh": "来电筛查", "en": "Caller screening"},
    "ivrnode.restricted_notice": {"zh": "限制呼入提示", "en": "Restriction notice"},
    "ivrnode.hours": {"zh": "服务时间判断", "en": "Opening hours"},
    "ivrnode.main_menu": {"zh": "主菜单", "en": "Main menu"},
    "ivrnode.describe": {"zh": "语音描述问题", "en": "Problem told by voice"},
    "ivrnode.my_orders": {"zh": "查询本号码工单", "en": "This number's order"},
    "ivrnode.order_number": {"zh": "输入工单号", "en": "Order number entry"},
    "ivrnode.lookup": {"zh": "工单查询", "en": "Order look-up"},
    "ivrnode.lookup_not_found": {"zh": "未查到工单", "en": "Order not found"},
    "ivrnode.after_lookup": {"zh": "查询后选项", "en": "After the look-up"},
    "ivrnode.urgent_queue": {"zh": "紧急故障排队", "en": "Urgent-fault queue"},
    "ivrnode.general_queue": {"zh": "人工服务排队", "en": "Operator queue"},
    "ivrnode.after_hours": {"zh": "非工作时间", "en": "After hours"},
    "ivrnode.leave_message": {"zh": "留言", "en": "Leave a message"},
    "ivrnode.message_saved": {"zh": "留言已保存", "en": "Message saved"},
    "ivrnode.callback": {"zh": "预约回拨", "en": "Callback booking"},
    "ivrnode.callback_booked": {"zh": "回拨已预约", "en": "Callback booked"},
    "ivrnode.goodbye": {"zh": "结束语", "en": "Goodbye"},
    "ivrnode.survey": {"zh": "满意度调查", "en": "Satisfaction survey"},
    "ivrnode.rating": {"zh": "服务评价", "en": "Service rating"},
}
CATALOGUE.update(TEXT)

#: kinds whose names live in the catalogue under ``<prefix>.<code>``
CATALOGUE_KINDS = {"state": "state", "queue": "queue", "outcome": "outcome", "role": "role", "ivr": "ivrnode"}


class Names:
    """Code → name in a language, for every kind of code a page shows."""

    def __init__(self, taxonomy=None) -> None:
        self.taxonomy = taxonomy

    def _pair(self, kind: str, code: str) -> tuple[str, str] | None:
        """(zh, en) of ``code`` of ``kind``, or None when it has no name."""
        if kind in CATALOGUE_KINDS:
            entry = CATALOGUE.get(f"{CATALOGUE_KINDS[kind]}.{code}")
            return (entry["zh"], entry["en"]) if entry else None
        if kind == "status":
            from ticketing.domain.lifecycle import STATUSES

            s = STATUSES.get(code)
            return (s.zh, s.en[:1].upper() + s.en[1:]) if s else None
        if kind == "co_state":
            from ticketing.domain.lifecycle import CO_STATES

            pair = CO_STATES.get(code)
            return (pair[0], pair[1][:1].upper() + pair[1][1:]) if pair else None
        if kind == "action":
            from ticketing.domain.lifecycle import TRANSITIONS

            for t in TRANSITIONS:
                if t.action == code:
                    return t.zh, t.en[:1].upper() + t.en[1:]
            entry = CATALOGUE.get(f"action.{code}")
            return (entry["zh"], entry["en"]) if entry else None
        if kind == "reason":
            from callcenter.routing.agent import PAUSE_REASONS

            label = PAUSE_REASONS.get(code)
            if label is None:
                return None
            zh, _, en = label.partition(" / ")
            return zh, en or zh
        taxonomy = self.taxonomy
        if taxonomy is None:
            return None
        if kind == "department":
            item = taxonomy.departments.get(code)
        elif kind == "category":
            item = taxonomy.categories.get(code)
        elif kind == "district":
            item = taxonomy.districts.get(code)
            if item is None:
                for district in taxonomy.districts.values():
                    item = district.subdistricts.get(code)
                    if item is not None:
                        break
        else:
            raise KeyError(f"no such kind of code: {kind!r}")
        return (item.zh, item.en) if item is not None else None

    def name(self, kind: str, code, lang: str = DEFAULT) -> str:
        """The name of ``code`` in ``lang`` ('' for no code; the code itself when it has no name)."""
        if code is None or code == "":
            return ""
        pair = self._pair(kind, str(code))
        if pair is None:
            return str(code)
        return pair[1] if lang == "en" and pair[1] else pair[0]

    def table(self, kind: str, codes, lang: str) -> dict[str, str]:
        """``{code: name}`` for scripts that render codes the JSON APIs send."""
        return {code: self.name(kind, code, lang) for code in codes}

    def all_codes(self, kind: str) -> list[str]:
        """Every code of ``kind`` with a name (for scripts and for the raw-code tests)."""
        if kind in CATALOGUE_KINDS:
            prefix = CATALOGUE_KINDS[kind] + "."
            return [k[len(prefix):] for k in CATALOGUE if k.startswith(prefix)]
        if kind == "status":
            from ticketing.domain.lifecycle import STATUSES

            return list(STATUSES)
        if kind == "reason":
            from callcenter.routing.agent import PAUSE_REASONS

            return list(PAUSE_REASONS)
        if kind == "action":
            from ticketing.domain.lifecycle import TRANSITIONS

            return sorted({t.action for t in TRANSITIONS} | {k[7:] for k in CATALOGUE if k.startswith("action.")})
        if kind == "co_state":
            from ticketing.domain.lifecycle import CO_STATES

            return list(CO_STATES)
        if self.taxonomy is None:
            return []
        group = {"department": self.taxonomy.departments, "category": self.taxonomy.categories,
                 "district": self.taxonomy.districts}[kind]
        return list(group)
