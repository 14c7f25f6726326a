"""`callcenter ivr check FLOW` and `callcenter ivr prompts build`."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub) -> None:
    parser = sub.add_parser("ivr", help="IVR flows and prompts / 语音导航流程与提示音")
    actions = parser.add_subparsers(dest="ivr_action", metavar="ACTION")
    actions.required = True
    check = actions.add_parser("check", help="validate flow files; prints every problem, exits 1 if any")
    check.add_argument("flows", nargs="+", metavar="FLOW", help="a flow file, or the name of a shipped flow")
    check.set_defaults(func=_check)
    prompts = actions.add_parser("prompts", help="prompt audio")
    prompt_actions = prompts.add_subparsers(dest="prompts_action", metavar="ACTION")
    prompt_actions.required = True
    build = prompt_actions.add_parser(
        "build", help="render every sound the hotline plays (flow prompts, queue announcements, rating, survey) "
                      "to 8 kHz WAV (espeak-ng + sox)")
    build.add_argument("--out", metavar="DIR", help="output directory (default: ivr.sounds_dir)")
    build.add_argument("--flows-dir", metavar="DIR", help="flow directory (default: ivr.flows_dir or shipped)")
    build.add_argument("--force", action="store_true", help="render again even if unchanged")
    build.set_defaults(func=_build)


def _resolve(arg: str) -> Path:
    from ivr.library import SHIPPED

    path = Path(arg)
    if path.exists() or path.suffix in (".yaml", ".yml") or "/" in arg:
        return path
    return SHIPPED / f"{arg}.yaml"


def _check(args) -> int:
    from ivr.flow import check_flow

    failed = 0
    for arg in args.flows:
        path = _resolve(arg)
        problems = check_flow(path)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            failed += 1
            print(f"{path}: {len(problems)} problem(s) / 发现 {len(problems)} 个问题", file=sys.stderr)
        else:
            print(f"{path}: ok / 校验通过")
    return 1 if failed else 0


def _build(args) -> int:
    from ivr.flow import FlowError
    from ivr.library import FlowLibrary
    from ivr.sounds import build_sounds
    from ivr.tts import TtsError

    flows_dir = args.flows_dir or args.cfg.get("ivr.flows_dir") or None
    out = Path(args.out or args.cfg.get("ivr.sounds_dir"))
    try:
        library = FlowLibrary(flows_dir)
    except FlowError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("refusing to build prompts for broken flows / 流程有误，未生成提示音", file=sys.stderr)
        return 1
    try:
        results = build_sounds(out, library.flows.values(), force=args.force)
    except TtsError as exc:
        print(f"{exc.error_id}: {exc}", file=sys.stderr)
        return 1
    rendered = sum(1 for *_, now in results if now)
    for entry, wav, now in results:
        log.debug("prompt", extra={"fields": {"name": entry.name, "rendered": now}})
    print(f"{len(results)} prompts in {out} ({rendered} rendered, {len(results) - rendered} unchanged)"
          f" / 共 {len(results)} 个提示音")
    return 0
