"""Flow files: YAML in, a validated :class:`Flow` out.

A flow that loads is safe to put on a live call: every target exists, every
node is reachable, every node can reach an end (no loop without exit), every
prompt has text in every language the flow offers, and every DTMF key is a
real key.  All problems are collected, each with a stable ``error_id``, the
file and the line, so `callcenter ivr check` can print them all at once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from callcenter.errors import HotlineError

DTMF_KEYS = frozenset("0123456789*#")
LANGUAGES = ("zh", "en")

# Kinds whose node ends the IVR for the call.
TERMINAL_KINDS = frozenset({"transfer", "hangup"})

# Per kind: allowed fields, required fields, and which fields name a target node.
_SPEC: dict[str, dict[str, Any]] = {
    "play": {"fields": {"prompt", "next"}, "required": {"prompt", "next"}, "targets": ("next",)},
    "menu": {
        "fields": {"prompt", "options", "timeout", "retries", "invalid_prompt", "timeout_prompt", "fallback"},
        "required": {"prompt", "options", "fallback"},
        "targets": ("fallback",),
    },
    "collect": {
        "fields": {"prompt", "var", "pattern", "max_digits", "timeout", "retries", "invalid_prompt",
                   "next", "fallback"},
        "required": {"prompt", "var", "pattern", "max_digits", "next", "fallback"},
        "targets": ("next", "fallback"),
    },
    "hours": {"fields": {"open", "closed"}, "required": {"open", "closed"}, "targets": ("open", "closed")},
    # the caller's number against the supervisors' list of restricted (nuisance) callers
    "screen": {"fields": {"allowed", "restricted"}, "required": {"allowed", "restricted"},
               "targets": ("allowed", "restricted")},
    "language": {
        "fields": {"prompt", "options", "timeout", "retries", "next"},
        "required": {"prompt", "options", "next"},
        "targets": ("next",),
    },
    "transfer": {"fields": {"prompt", "queue", "skill", "priority"}, "required": {"queue"}, "targets": ()},
    "message": {
        "fields": {"prompt", "max_seconds", "outcome", "next", "fallback"},
        "required": {"prompt", "next"},
        "targets": ("next", "fallback"),
    },
    "callback": {
        "fields": {"queue", "skill", "priority", "next", "fallback"},
        "required": {"queue", "next", "fallback"},
        "targets": ("next", "fallback"),
    },
    "speech": {
        "fields": {"prompt", "grammar", "timeout", "retries", "invalid_prompt", "fallback"},
        "required": {"prompt", "grammar", "fallback"},
        "targets": ("fallback",),
    },
    # the caller says what the problem is: recorded (silence ends it), transcribed, intake proposes the
    # order; urgent → ``urgent``, else ``next`` (``skills``: department → skill for the transfer);
    # not understood / no recogniser → ``fallback`` (the key menu)
    "describe": {
        "fields": {"prompt", "max_seconds", "silence", "urgent", "next", "fallback", "skills"},
        "required": {"prompt", "next", "fallback"},
        "targets": ("next", "urgent", "fallback"),
    },
    # an order by the number the caller keyed in (``var``), or the caller's latest open one (``by: caller``)
    "lookup": {
        "fields": {"var", "by", "prompt", "next", "not_found"},
        "required": {"prompt", "next", "not_found"},
        "targets": ("next", "not_found"),
    },
    "outcome": {"fields": {"name", "value", "next"}, "required": {"name", "value", "next"}, "targets": ("next",)},
    "hangup": {"fields": {"prompt"}, "required": set(), "targets": ()},
}
NODE_KINDS = frozenset(_SPEC)
_PROMPT_FIELDS = ("prompt", "invalid_prompt", "timeout_prompt")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VAR = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$|^[a-z][a-z0-9_]{0,63}$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
LOOKUP_FIELDS = frozenset({"number", "status", "deadline", "summary", "reply", "category"})


@dataclass(frozen=True)
class FlowProblem:
    """One validation problem; ``error_id`` is stable for tools and tests."""

    error_id: str
    message: str
    file: str = "<flow>"
    line: int | None = None
    node: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        node = f" [{self.node}]" if self.node else ""
        return f"{where}:{node} {self.error_id}: {self.message}"


class FlowError(HotlineError):
    """A flow file that must not reach a live call; ``problems`` lists why."""

    error_id = "ivr.flow.invalid"

    def __init__(self, problems: list[FlowProblem]):
        self.problems = list(problems)
        self.message = "\n".join(str(p) for p in self.problems)
        self.details = {"problems": [p.error_id for p in self.problems]}
        Exception.__init__(self, self.message)


@dataclass(frozen=True)
class Prompt:
    """Text per language, or an Asterisk sound name usable in every language."""

    id: str
    texts: dict[str, str] = field(default_factory=dict)
    sound: str | None = None

    def text(self, lang: str) -> str | None:
        return self.texts.get(lang)


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    spec: dict[str, Any]
    line: int | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.spec.get(key, default)

    @property
    def options(self) -> dict[str, str]:
        return self.spec.get("options", {})


@dataclass(frozen=True)
class Edge:
    """A way from one node to another; ``keys`` is what the caller pressed."""

    source: str
    target: str
    label: str
    keys: int = 0


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    languages: tuple[str, ...]
    default_language: str
    nodes: dict[str, Node]
    prompts: dict[str, Prompt]
    channel_vars: tuple[str, ...] = ()
    timezone: str = "Asia/Shanghai"
    on_error: str | None = None
    file: str = "<flow>"

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def edges(self, node_id: str) -> Iterator[Edge]:
        return _edges(self.nodes[node_id])


def _edges(node: Node) -> Iterator[Edge]:
    spec = node.spec
    if node.kind in ("menu",):
        for key, target in spec.get("options", {}).items():
            yield Edge(node.id, target, f"key:{key}", 1)
    if node.kind == "speech":
        for target in spec.get("grammar", {}):
            yield Edge(node.id, target, "speech", 0)
    if node.kind == "collect":
        yield Edge(node.id, spec["next"], "digits", int(spec.get("max_digits", 1)))
        yield Edge(node.id, spec["fallback"], "fallback", 0)
        return
    if node.kind == "language":
        yield Edge(node.id, spec["next"], "key", 1)
        yield Edge(node.id, spec["next"], "timeout", 0)
        return
    labels = {"fallback": "fallback", "next": "next", "urgent": "urgent", "open": "open", "closed": "closed", "not_found": "not_found",
              "allowed": "allowed", "restricted": "restricted"}
    for name in _SPEC[node.kind]["targets"]:
        if name in spec:
            yield Edge(node.id, spec[name], labels[name], 0)


# --------------------------------------------------------------------- YAML


class _Mapping(dict):
    """A mapping that remembers where it and each key came from."""

    line: int | None = None
    key_lines: dict


class _Loader(yaml.SafeLoader):
    """SafeLoader that records lines and reports duplicate keys instead of
    silently keeping the last one (PyYAML's default)."""

    def __init__(self, stream, problems: list[FlowProblem], file: str):
        super().__init__(stream)
        self.problems = problems
        self.file = file


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    out = _Mapping()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            loader.problems.append(FlowProblem("ivr.flow.bad_key", f"unhashable key {key!r}", loader.file,
                                               key_node.start_mark.line + 1))
            continue
        line = key_node.start_mark.line + 1
        if key in out:
            loader.problems.append(FlowProblem(
                "ivr.flow.duplicate_id", f"{key!r} is defined twice (first on line {out.key_lines[key]})",
                loader.file, line))
            continue
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_flow(text: str, file: str = "<flow>") -> Flow:
    """Parse and validate flow text; raise :class:`FlowError` listing every problem."""
    problems: list[FlowProblem] = []
    try:
        loader = _Loader(text, problems, file)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FlowError([FlowProblem("ivr.flow.yaml", str(exc).replace("\n", " "), file,
                                     mark.line + 1 if mark else None)]) from None
    flow = _build(data, file, problems)
    if problems or flow is None:
        raise FlowError(problems)
    return flow


def load_flow(path: str | Path) -> Flow:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError([FlowProblem("ivr.flow.unreadable", str(exc), str(path))]) from None
    return parse_flow(text, str(path))


def check_flow(path: str | Path) -> list[FlowProblem]:
    """Every problem of a flow file (empty when it may go live)."""
    try:
        load_flow(path)
    except FlowError as exc:
        return exc.problems
    return []


# --------------------------------------------------------------- validation


def _line(mapping: Any, key: Any = None) -> int | None:
    if isinstance(mapping, _Mapping):
        if key is not None and key in mapping.key_lines:
            return mapping.key_lines[key]
        return mapping.line
    return None


def _build(data: Any, file: str, problems: list[FlowProblem]) -> Flow | None:
    def problem(error_id: str, message: str, where: Any = None, key: Any = None, node: str | None = None):
        problems.append(FlowProblem(error_id, message, file, _line(where, key), node))

    if not isinstance(data, dict):
        problem("ivr.flow.bad_field", "a flow file is a mapping with name, start, prompts and nodes")
        return None
    allowed_top = {"name", "start", "languages", "default_language", "prompts", "nodes", "channel_vars",
                   "timezone", "on_error", "description"}
    for key in data:
        if key not in allowed_top:
            problem("ivr.flow.bad_field", f"unknown top-level field {key!r}", data, key)
    name = data.get("name")
    if not isinstance(name, str) or not _QUEUE.match(name):
        problem("ivr.flow.bad_field", "name: a short identifier is required", data, "name")
        name = "<unnamed>"
    languages = data.get("languages", list(LANGUAGES))
    if not isinstance(languages, list) or not languages or any(lang not in LANGUAGES for lang in languages):
        problem("ivr.flow.bad_field", f"languages: a non-empty list of {', '.join(LANGUAGES)}", data, "languages")
        languages = list(LANGUAGES)
    default_language = data.get("default_language", languages[0])
    if default_language not in languages:
        problem("ivr.flow.bad_field", f"default_language {default_language!r} is not in languages", data,
                "default_language")
        default_language = languages[0]
    channel_vars = data.get("channel_vars", [])
    if not isinstance(channel_vars, list) or any(not isinstance(v, str) or not _VAR.match(v) for v in channel_vars):
        problem("ivr.flow.bad_field", "channel_vars: a list of variable names", data, "channel_vars")
        channel_vars = []
    timezone = data.get("timezone", "Asia/Shanghai")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(str(timezone))
    except Exception:
        problem("ivr.flow.bad_field", f"timezone {timezone!r} is not a known time zone", data, "timezone")
        timezone = "Asia/Shanghai"

    prompts = _build_prompts(data.get("prompts"), languages, data, problem)
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        problem("ivr.flow.bad_field", "nodes: a mapping of node id to node", data, "nodes")
        return None
    nodes: dict[str, Node] = {}
    used_prompts: set[str] = set()
    for node_id, raw in raw_nodes.items():
        if not isinstance(node_id, str) or not _NAME.match(node_id):
            problem("ivr.flow.bad_field", f"node id {node_id!r}: letters, digits and _ only", raw_nodes, node_id)
            continue
        node = _build_node(node_id, raw, raw_nodes, prompts, used_prompts, problem)
        if node is not None:
            nodes[node_id] = node

    start = data.get("start")
    if start not in raw_nodes:
        problem("ivr.flow.missing_target", f"start: no node {start!r}", data, "start")
    on_error = data.get("on_error")
    if on_error is not None and on_error not in raw_nodes:
        problem("ivr.flow.missing_target", f"on_error: no node {on_error!r}", data, "on_error")
    for node in nodes.values():
        for edge in _edges(node):
            if edge.target not in raw_nodes:
                problem("ivr.flow.missing_target", f"{edge.label} leads to missing node {edge.target!r}",
                        raw_nodes.get(node.id), node=node.id)
    for prompt_id in sorted(set(prompts) - used_prompts):
        problem("ivr.flow.unused_prompt", f"prompt {prompt_id!r} is never used", data.get("prompts"), prompt_id)
    if problems or start not in nodes:
        return None
    flow = Flow(name=name, start=start, languages=tuple(languages), default_language=default_language,
                nodes=nodes, prompts=prompts, channel_vars=tuple(channel_vars), timezone=str(timezone),
                on_error=on_error, file=file)
    _check_graph(flow, raw_nodes, problem)
    return flow


def _build_prompts(raw: Any, languages: list[str], data: Any, problem) -> dict[str, Prompt]:
    prompts: dict[str, Prompt] = {}
    if raw is None:
        return prompts
    if not isinstance(raw, dict):
        problem("ivr.flow.bad_field", "prompts: a mapping of prompt id to texts", data, "prompts")
        return prompts
    for prompt_id, spec in raw.items():
        if not isinstance(prompt_id, str) or not _NAME.match(prompt_id):
            problem("ivr.flow.bad_field", f"prompt id {prompt_id!r}: letters, digits and _ only", raw, prompt_id)
            continue
        if isinstance(spec, dict) and set(spec) == {"sound"}:
            sound = spec["sound"]
            if not isinstance(sound, str) or not re.fullmatch(r"[A-Za-z0-9_/-]{1,128}", sound):
                problem("ivr.flow.bad_field", f"prompt {prompt_id!r}: sound must be an Asterisk sound name", raw,
                        prompt_id)
                continue
            prompts[prompt_id] = Prompt(prompt_id, {}, sound)
            continue
        if not isinstance(spec, dict):
            problem("ivr.flow.bad_field", f"prompt {prompt_id!r}: a mapping of language to text, or sound: NAME",
                    raw, prompt_id)
            continue
        texts: dict[str, str] = {}
        for lang, text in spec.items():
            if lang not in LANGUAGES:
                problem("ivr.flow.bad_field", f"prompt {prompt_id!r}: unknown language {lang!r}", spec, lang)
            elif not isinstance(text, str) or not text.strip() or "\n" in text.strip() or "\r" in text:
                problem("ivr.flow.bad_field", f"prompt {prompt_id!r} [{lang}]: one line of text", spec, lang)
            else:
                texts[lang] = text.strip()
        for lang in languages:
            if lang not in spec:
                problem("ivr.flow.missing_prompt", f"prompt {prompt_id!r} has no {lang!r} text", raw, prompt_id)
        prompts[prompt_id] = Prompt(prompt_id, texts)
    return prompts


def _int_field(spec, key, low, high, default, node_id, problem):
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        problem("ivr.flow.bad_field", f"{key}: a number from {low} to {high}", spec, key, node_id)
        return default
    return value


def _build_node(node_id: str, raw: Any, raw_nodes: dict, prompts: dict[str, Prompt], used: set[str],
                problem) -> Node | None:
    if not isinstance(raw, dict):
        problem("ivr.flow.bad_field", "a node is a mapping with a kind", raw_nodes, node_id, node_id)
        return None
    kind = raw.get("kind")
    if kind not in _SPEC:
        problem("ivr.flow.unknown_kind", f"unknown node kind {kind!r} (known: {', '.join(sorted(NODE_KINDS))})",
                raw, "kind", node_id)
        return None
    spec_def = _SPEC[kind]
    ok = True
    for key in raw:
        if key != "kind" and key not in spec_def["fields"]:
            problem("ivr.flow.bad_field", f"{kind} node has no field {key!r}", raw, key, node_id)
            ok = False
    for key in sorted(spec_def["required"]):
        if key not in raw:
            problem("ivr.flow.missing_field", f"{kind} node needs {key!r}", raw, None, node_id)
            ok = False
    for key in spec_def["targets"]:
        if key in raw and not isinstance(raw[key], str):
            problem("ivr.flow.missing_target", f"{key}: a node id", raw, key, node_id)
            ok = False
    for key in _PROMPT_FIELDS:
        if key in raw:
            if not isinstance(raw[key], str):
                # written inline ({zh: …}) or as a list: texts belong under prompts:, nodes name them
                problem("ivr.flow.bad_field", f"{key}: the id of a prompt under prompts: (not inline texts "
                        f"or a list) / 请填写 prompts 中的提示音编号", raw, key, node_id)
                ok = False
            elif raw[key] not in prompts:
                problem("ivr.flow.missing_prompt", f"{key}: no prompt {raw[key]!r}", raw, key, node_id)
                ok = False
            else:
                used.add(raw[key])
    spec = dict(raw)
    spec.pop("kind")
    if kind in ("menu", "language"):
        options = raw.get("options")
        if not isinstance(options, dict) or not options:
            problem("ivr.flow.bad_option_key", "options: a mapping of DTMF key to target", raw, "options", node_id)
            return None
        clean: dict[str, str] = {}
        for key, target in options.items():
            text_key = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
            if not isinstance(text_key, str) or len(text_key) != 1 or text_key not in DTMF_KEYS:
                problem("ivr.flow.bad_option_key", f"option {key!r} is not a single DTMF key (0-9, *, #)",
                        options, key, node_id)
                ok = False
                continue
            if kind == "language" and target not in LANGUAGES:
                problem("ivr.flow.bad_field", f"option {text_key}: {target!r} is not a language", options, key,
                        node_id)
                ok = False
                continue
            if kind == "menu" and not isinstance(target, str):
                problem("ivr.flow.missing_target", f"option {text_key}: a node id", options, key, node_id)
                ok = False
                continue
            clean[text_key] = target
        spec["options"] = clean
    if kind in ("menu", "language", "collect", "speech"):
        spec["timeout"] = _int_field(raw, "timeout", 1, 60, 5, node_id, problem)
        spec["retries"] = _int_field(raw, "retries", 0, 5, 2, node_id, problem)
    if kind == "collect":
        spec["max_digits"] = _int_field(raw, "max_digits", 1, 32, 1, node_id, problem)
        try:
            re.compile(str(raw.get("pattern", "")))
        except re.error as exc:
            problem("ivr.flow.bad_field", f"pattern: {exc}", raw, "pattern", node_id)
            ok = False
        if not _VAR.match(str(raw.get("var", ""))):
            problem("ivr.flow.bad_field", "var: a variable name", raw, "var", node_id)
            ok = False
    if kind == "lookup":
        if ("var" in raw) == ("by" in raw):
            problem("ivr.flow.bad_field", "lookup: give either var (a keyed-in number) or by: caller", raw,
                    "var", node_id)
            ok = False
        elif "by" in raw and raw["by"] != "caller":
            problem("ivr.flow.bad_field", "by: only 'caller' (the caller's latest open order)", raw, "by", node_id)
            ok = False
        elif "var" in raw and not _VAR.match(str(raw.get("var", ""))):
            problem("ivr.flow.bad_field", "var: a variable name", raw, "var", node_id)
            ok = False
        prompt = prompts.get(raw["prompt"]) if isinstance(raw.get("prompt"), str) else None
        for text in (prompt.texts.values() if prompt else ()):
            unknown = set(_PLACEHOLDER.findall(text)) - LOOKUP_FIELDS
            if unknown:
                problem("ivr.flow.bad_field", f"prompt {prompt.id!r} uses unknown fields {sorted(unknown)}", raw,
                        "prompt", node_id)
                ok = False
    if kind in ("transfer", "callback"):
        if not _QUEUE.match(str(raw.get("queue", ""))):
            problem("ivr.flow.bad_field", "queue: a queue name", raw, "queue", node_id)
            ok = False
        if "skill" in raw and not _QUEUE.match(str(raw["skill"])):
            problem("ivr.flow.bad_field", "skill: a skill name", raw, "skill", node_id)
            ok = False
        spec["priority"] = _int_field(raw, "priority", 0, 100, 0, node_id, problem)
    if kind == "describe":
        spec["max_seconds"] = _int_field(raw, "max_seconds", 5, 120, 30, node_id, problem)
        spec["silence"] = _int_field(raw, "silence", 1, 10, 2, node_id, problem)
        skills = raw.get("skills", {})
        if not isinstance(skills, dict) or not all(
                isinstance(k, str) and _QUEUE.match(k) and isinstance(v, str) and _QUEUE.match(v)
                for k, v in skills.items()):
            problem("ivr.flow.bad_field", "skills: a mapping of department code to skill name", raw, "skills",
                    node_id)
            ok = False
        else:
            spec["skills"] = dict(skills)
    if kind == "message":
        spec["max_seconds"] = _int_field(raw, "max_seconds", 5, 600, 120, node_id, problem)
        if "outcome" in raw and not _NAME.match(str(raw["outcome"])):
            problem("ivr.flow.bad_field", "outcome: a name", raw, "outcome", node_id)
            ok = False
    if kind == "outcome":
        for key in ("name", "value"):
            if not _NAME.match(str(raw.get(key, ""))):
                problem("ivr.flow.bad_field", f"{key}: a name", raw, key, node_id)
                ok = False
    if kind == "speech":
        grammar = raw.get("grammar")
        if not isinstance(grammar, dict) or not grammar:
            problem("ivr.flow.bad_field", "grammar: a mapping of target node to words", raw, "grammar", node_id)
            return None
        clean_grammar: dict[str, tuple[str, ...]] = {}
        for target, words in grammar.items():
            if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
                problem("ivr.flow.bad_field", f"grammar {target!r}: a list of words", grammar, target, node_id)
                ok = False
                continue
            clean_grammar[target] = tuple(w.strip().lower() for w in words)
        spec["grammar"] = clean_grammar
    if not ok:
        return None
    return Node(node_id, kind, spec, _line(raw))


def _check_graph(flow: Flow, raw_nodes: dict, problem) -> None:
    """Reachability from the start, and an end reachable from every node."""
    reachable = {flow.start}
    todo = [flow.start] + ([flow.on_error] if flow.on_error else [])
    reachable.update(todo)
    while todo:
        for edge in flow.edges(todo.pop()):
            if edge.target not in reachable:
                reachable.add(edge.target)
                todo.append(edge.target)
    for node_id in flow.nodes:
        if node_id not in reachable:
            problem("ivr.flow.unreachable", "no path from the start leads here", raw_nodes.get(node_id),
                    node=node_id)
    # Reverse search from every terminal node: what cannot reach one loops forever.
    incoming: dict[str, set[str]] = {n: set() for n in flow.nodes}
    for node_id in flow.nodes:
        for edge in flow.edges(node_id):
            incoming[edge.target].add(node_id)
    ends = [n for n, node in flow.nodes.items() if node.kind in TERMINAL_KINDS]
    can_end = set(ends)
    todo = list(ends)
    while todo:
        for source in incoming[todo.pop()]:
            if source not in can_end:
                can_end.add(source)
                todo.append(source)
    for node_id in flow.nodes:
        if node_id in reachable and node_id not in can_end:
            problem("ivr.flow.loop_without_exit", "callers here can never reach a transfer or hang-up",
                    raw_nodes.get(node_id), node=node_id)


def key_presses(flow: Flow, labels_allowed=lambda edge: True) -> dict[str, int]:
    """Fewest DTMF key presses from the start to each node (0-1 BFS over edges
    that ``labels_allowed`` accepts); unreachable nodes are absent."""
    from collections import deque

    best = {flow.start: 0}
    queue = deque([flow.start])
    while queue:
        node_id = queue.popleft()
        for edge in flow.edges(node_id):
            if not labels_allowed(edge):
                continue
            cost = best[node_id] + edge.keys
            if cost < best.get(edge.target, 1 << 30):
                best[edge.target] = cost
                (queue.appendleft if edge.keys == 0 else queue.append)(edge.target)
    return best
