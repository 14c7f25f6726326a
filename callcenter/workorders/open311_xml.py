"""GeoReport v2's XML: the same documents as the JSON, with the spec's element names.

Lists are wrapped as the spec's examples show (``services/service``,
``service_requests/request``, ``errors/error``, ``service_definition/attributes/attribute``,
``values/value``, ``discovery/endpoints/endpoint/formats/format``); ``true``/``false`` for
booleans, an empty element for a missing value, numbers as decimals.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

# list key → the element name of each item
ITEMS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format",
         "services": "service", "service_requests": "request", "errors": "error"}


def _value(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return escape(str(value))


def _element(name: str, value) -> str:
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_element(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        item = ITEMS.get(name, "item")
        return f"<{name}>" + "".join(_element(item, v) for v in value) + f"</{name}>"
    text = _value(value)
    return f"<{name}>{text}</{name}>" if text else f"<{name}/>" if value is None else f"<{name}></{name}>"


def document(root: str, value) -> bytes:
    """``value`` (a list or a dict) as the XML document ``root``."""
    if isinstance(value, list):
        body = "".join(_element(ITEMS[root], v) for v in value)
        xml = f"<{root}>{body}</{root}>"
    else:
        xml = _element(root, value)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + xml).encode("utf-8")
