"""A few Asterisk CLI commands for the AMI ``Command`` action [capture 05].

Output imitates Asterisk 22 line by line (``Output:`` headers keep trailing
spaces and empty lines); anything else answers like Asterisk's
"No such command".
"""
from __future__ import annotations


def run(sim, text: str) -> tuple[bool, list[str]]:
    """``(ok, lines)`` for one CLI command line."""
    words = text.split()
    lower = [w.lower() for w in words]
    if lower == ["core", "show", "version"]:
        return True, [sim.version_line]
    if lower[:3] == ["core", "show", "uptime"]:
        up = int((sim.reactor.seconds() - sim.started) * 1)
        if lower[3:] == ["seconds"]:
            return True, [f"System uptime: {up}", f"Last reload: {up}"]
        return True, [f"System uptime: {_human(up)}", f"Last reload: {_human(up)}"]
    if lower[:3] == ["core", "show", "channels"]:
        return True, _channels(sim, concise=lower[3:] == ["concise"])
    if lower[:2] == ["queue", "show"]:
        return True, _queues(sim, words[2] if len(words) > 2 else None)
    if lower[:2] == ["dialplan", "show"]:
        return _dialplan(sim, words[2] if len(words) > 2 else None)
    hint = " ".join(words[:2])
    return False, [f"No such command '{text}' (type 'core show help {hint}' for other possible commands)"]


def _human(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    parts.append(f"{secs} second{'s' if secs != 1 else ''}")
    return ", ".join(parts)


def _channels(sim, concise: bool) -> list[str]:
    chans = list(sim.channels.values())
    if concise:
        return [f"{c.name}!{c.context}!{c.exten}!{c.priority}!{c.state_desc}!{c.application}!{c.appdata}!"
                f"{c.caller_num}!!!3!0!{c.bridge.uniqueid if c.bridge else ''}!{c.uniqueid}" for c in chans]
    lines = [f"{'Channel':<64} {'Location':<32} {'State':<7} {'Application(Data)':<30}"]
    for c in chans:
        location = f"{c.exten}@{c.context}:{c.priority}"
        app = f"{c.application}({c.appdata})"[:30]
        lines.append(f"{c.name[:64]:<64} {location[:32]:<32} {c.state_desc:<7} {app:<30}")
    calls = len({c.linkedid for c in chans})
    lines += [f"{len(chans)} active channel{'s' if len(chans) != 1 else ''}",
              f"{calls} active call{'s' if calls != 1 else ''}",
              f"{sim.processed_calls} call{'s' if sim.processed_calls != 1 else ''} processed"]
    return lines


_STATUS = {1: "Not in use", 2: "In use", 5: "Unavailable", 6: "Ringing"}


def _queues(sim, name: str | None) -> list[str]:
    lines = []
    now = sim.reactor.seconds()
    for q in sim.queues.queues.values():
        if name and q.name != name:
            continue
        lines.append(f"{q.name} has {len(q.entries)} calls (max unlimited) in '{q.strategy}' strategy "
                     f"({int(q.holdtime)}s holdtime, {int(q.talktime)}s talktime), W:0, C:{q.completed}, "
                     f"A:{q.abandoned}, SL:0.0%, SL2:0.0% within 0s")
        lines.append("   Members: " if q.members else "   No Members")
        for m in q.members:
            paused = f" (paused:{m.reason})" if m.paused and m.reason else (" (paused)" if m.paused else "")
            dyn = " (dynamic)" if m.dynamic else ""
            taken = (f"has taken {m.calls_taken} calls (last was {int(now - m.last_call)} secs ago)"
                     if m.calls_taken else "has taken no calls yet")
            lines.append(f"      {m.name} ({m.interface}){dyn} (ringinuse {'enabled' if m.ringinuse else 'disabled'})"
                         f"{paused} ({_STATUS.get(m.status, 'Unknown')}) {taken} "
                         f"(login was {int(now - m.login_time)} secs ago)")
        if q.entries:
            lines.append("   Callers: ")
            for pos, e in enumerate(q.entries, 1):
                lines.append(f"      {pos}. {e.channel.name} (wait: {_mmss(now - e.joined)}, prio: 0)")
        else:
            lines.append("   No Callers")
        lines.append("")
    if name and not lines:
        return [f"No such queue: {name}."]
    return lines


def _mmss(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def _dialplan(sim, what: str | None) -> tuple[bool, list[str]]:
    exten_filter, _, context_filter = (what or "").rpartition("@") if what and "@" in what else ("", "", what or "")
    lines = []
    n_ext = n_prio = n_ctx = 0
    for cname, exts in sim.dialplan.contexts.items():
        if context_filter and cname != context_filter:
            continue
        shown = [(p, e) for p, e in exts.items() if not exten_filter or p == exten_filter]
        if not shown:
            continue
        n_ctx += 1
        lines.append(f"[ Context '{cname}' created by 'pbx_config' ]")
        for pattern, ext in shown:
            n_ext += 1
            for i, step in enumerate(ext.steps):
                n_prio += 1
                label = f"({step.label})" if step.label else ""
                body = f"{step.priority}.{label} {step.app}({step.data})"
                head = f"  '{pattern}' =>" if i == 0 else ""
                lines.append(f"{head:<20}{body:<45} [extensions.conf:{step.line}]")
        lines.append("")
    if not n_ctx:
        return False, [f"There is no existence of '{what}' context"]
    lines.append(f"-= {n_ext} extension{'s' if n_ext != 1 else ''} ({n_prio} priorities) in {n_ctx} "
                 f"context{'s' if n_ctx != 1 else ''}. =-")
    return True, lines
