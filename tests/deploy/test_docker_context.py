"""The build context of docker/Dockerfile (.dockerignore) and the image's directories for compose's volumes.

Docker's own matching rules are applied here (moby's patternmatcher, as `docker build` uses it): each
pattern is cleaned like Go's filepath.Clean (a trailing slash is dropped), `*` and `?` stop at `/`,
`**` crosses directories, a path is excluded when it or a parent directory matches, the last matching
line wins and `!` lines take paths back.  With `asr_models/*/` the image had no model manifest, so
`callcenter check` failed in the container (found by building it).
"""
from __future__ import annotations

import posixpath
import re

import yaml

from tests.conftest import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"


def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif ch == "*":
            out, i = out + "[^/]*", i + 1
        elif ch == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(ch), i + 1
    return re.compile(out + "$")


def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        cleaned = posixpath.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((keep, _pattern_regex(cleaned)))
    return rules


def excluded(path: str, rules=None) -> bool:
    """Whether `docker build` leaves ``path`` (relative to the repository root) out of the context."""
    rules = dockerignore_rules() if rules is None else rules
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for keep, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            result = not keep
    return result


def dockerfile_copy_sources() -> list[str]:
    sources = []
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources += [s.rstrip("/") for s in line.split()[1:-1]]
    return sources


def test_the_matcher_follows_docker_on_the_trailing_slash_that_emptied_asr_models():
    """A pattern `dir/*/` is `dir/*` to Docker: it takes the files in dir too, not only its subfolders."""
    rules = [(False, _pattern_regex(posixpath.normpath("asr_models/*/")))]
    assert excluded("asr_models/manifest.toml", rules)
    assert excluded("asr_models/whisper-base/model.bin", rules)
    assert not excluded("callcenter/app.py", rules)


def test_every_file_the_dockerfile_copies_is_sent_to_the_build():
    """Every COPY source of docker/Dockerfile, and every tracked file under the copied folders that the
    image needs (code, flows, templates, the speech model manifest), stays in the context."""
    sources = dockerfile_copy_sources()
    assert {"pyproject.toml", "constraints.txt", "callcenter", "ivr", "ticketing", "asr_models"} <= set(sources)
    rules = dockerignore_rules()
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not excluded(source, rules), source
    for needed in ("asr_models/manifest.toml", "callcenter/cli.py", "callcenter/app.py", "ivr/flows/hotline.yaml",
                   "ticketing/intake/data/model.json"):
        assert (ROOT / needed).is_file(), needed
        assert not excluded(needed, rules), needed


def test_the_local_environment_stays_out_of_the_image():
    """The virtualenv, git history, caches, local databases and installed speech models (gigabytes on a
    developer's machine) are not sent: the image is built from what a clean clone holds."""
    rules = dockerignore_rules()
    for path in (".venv/bin/python", ".venv/lib/python3.11/site-packages/torch/__init__.py", ".git/HEAD",
                 "callcenter/__pycache__/app.cpython-311.pyc", "ivr/__pycache__/runner.cpython-311.pyc",
                 "asr_models/whisper-base/model.bin", "asr_models/vosk-model-small-cn-0.22/am/final.mdl",
                 "var/hotline.sqlite3", "hotline_callcenter.egg-info/PKG-INFO", "tests/conftest.py"):
        assert excluded(path, rules), path


def test_the_image_owns_every_directory_compose_mounts_a_volume_on():
    """The service runs as a non-root user; Docker seeds a new named volume with the image directory's
    owner, so every volume target of the callcenter services is created and chowned to that user in the
    Dockerfile, and docker/callcenter.toml points its directories at those targets."""
    from callcenter.config import load_config

    text = DOCKERFILE.read_text(encoding="utf-8")
    user = re.search(r"^USER (\S+)$", text, re.M).group(1)
    assert user not in ("root", "0")
    run = next(" ".join(block.replace("\\", " ").split()) for block in text.split("\nRUN ") if "useradd" in block)
    made = set(re.search(r"mkdir -p ((?:/\S+ ?)+)", run).group(1).split())
    owned = set(re.search(rf"chown -R {user} ((?:/\S+ ?)+)", run).group(1).split())
    services = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8"))["services"]
    targets = set()
    for service in services.values():
        if service.get("image", "").startswith("hotline-callcenter"):
            for volume in service.get("volumes", ()):
                source, target = volume.split(":")[:2]
                if not source.startswith((".", "/")):
                    targets.add(target)
    assert targets, "no named volumes on the callcenter services"
    for target in targets:
        assert target in made, f"{target} is not created in the image"
        assert any(target == d or target.startswith(d + "/") for d in owned), f"{target} is not owned by {user}"
    cfg = load_config(str(ROOT / "docker" / "callcenter.toml"), environ={})
    for key in ("ivr.sounds_dir", "ivr.recordings_dir", "asr.model_dir"):
        assert cfg.get(key) in targets, (key, cfg.get(key), targets)
    # the speech models volume must not cover the image's manifest (a named volume is seeded once)
    assert not cfg.get("asr.model_dir").startswith("/app/")


def test_every_path_the_service_writes_in_the_container_is_its_own():
    """What `serve` writes at run time, as docker/callcenter.toml places it — citizens' photos and order
    attachments, the speech spool, IVR recordings and prompts, speech models, the retrained intake
    model — lies in a directory the image creates and gives to the service user.  A relative path lands
    under WORKDIR /app, which belongs to root: `[attachments] dir` was `var/attachments` there, so every
    upload of a photo would have failed in the container (the user cannot create /app/var) and the files
    would not have outlived the container.  Attachments are kept on a named volume of their own."""
    from callcenter.config import load_config

    text = DOCKERFILE.read_text(encoding="utf-8")
    user = re.search(r"^USER (\S+)$", text, re.M).group(1)
    run = next(" ".join(block.replace("\\", " ").split()) for block in text.split("\nRUN ") if "useradd" in block)
    made = set(re.search(r"mkdir -p ((?:/\S+ ?)+)", run).group(1).split())
    owned = set(re.search(rf"chown -R {user} ((?:/\S+ ?)+)", run).group(1).split())
    cfg = load_config(str(ROOT / "docker" / "callcenter.toml"), environ={})
    written = {key: cfg.get(key) for key in ("attachments.dir", "asr.spool_dir", "ivr.sounds_dir",
                                             "ivr.recordings_dir", "asr.model_dir")}
    written["intake.retrain_model_path (its folder)"] = posixpath.dirname(cfg.get("intake.retrain_model_path"))
    if cfg.get("search.engine") == "embedded":
        written["search.path (its folder)"] = posixpath.dirname(cfg.get("search.path"))
    for key, path in written.items():
        assert posixpath.isabs(path), f"{key} = {path!r} is relative: under WORKDIR /app, owned by root"
        assert any(path == d or path.startswith(d + "/") for d in made), f"{key} = {path!r} is not created"
        assert any(path == d or path.startswith(d + "/") for d in owned), f"{key} = {path!r} is not {user}'s"
    services = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8"))["services"]
    volumes = {v.split(":")[1]: v.split(":")[0] for v in services["callcenter"]["volumes"]}
    assert volumes.get(cfg.get("attachments.dir"), "./").isidentifier(), (cfg.get("attachments.dir"), volumes)
