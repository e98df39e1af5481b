"""The one XML parser every channel uses: no DTDs, no entities, no network, bounded size/depth.

Why refuse DOCTYPE outright instead of ignoring it: e-invoice syntaxes never need one, and a
document that carries one is either a mistake or an attack (XXE, billion laughs). Saying so
plainly (``forbidden-construct``) is more useful to a sender than silently dropping it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lxml import etree


@dataclass(frozen=True)
class ParseLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_depth: int = 200


class XmlRefused(Exception):
    """Base for inputs that are refused before validation; ``code`` is a stable error code."""

    code = "xml-refused"

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }


class NotWellFormed(XmlRefused):
    code = "not-well-formed"


class ForbiddenConstruct(XmlRefused):
    code = "forbidden-construct"


class TooLarge(XmlRefused):
    code = "too-large"


@lru_cache(maxsize=8)
def _deeper_than(depth: int) -> etree.XPath:
    """Is there an element with ``depth`` ancestors or more? Written as ``/*/*/...`` with
    ``depth + 1`` steps: each step visits one level once, so the test is linear in the number
    of elements (``//*[count(ancestor::*) >= $depth]`` is not, and took 5x longer)."""
    return etree.XPath("boolean(" + "/*" * (depth + 1) + ")")


#: lxml parsers are not thread-safe but are reusable within a thread; validation runs one
#: document at a time per process, and the API parses in worker processes as well.
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
)


def parse_xml(data: bytes, limits: ParseLimits | None = None) -> etree._ElementTree:
    """Parse ``data`` safely or raise an :class:`XmlRefused` subclass saying why."""
    limits = limits or ParseLimits()
    if len(data) > limits.max_bytes:
        raise TooLarge(f"document is {len(data)} bytes; the limit is {limits.max_bytes}")
    if not data.strip():
        raise NotWellFormed("document is empty", 1, 1)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position and exc.position[0] else (exc.lineno, None)
        msg = str(exc.msg or exc)
        if "Excessive depth" in msg:
            raise TooLarge(f"element nesting is deeper than {limits.max_depth} levels") from exc
        if "DOCTYPE" in msg.upper() or "ENTITY" in msg.upper():
            raise ForbiddenConstruct(
                f"DTD/entity constructs are not allowed: {msg}", line, column
            ) from exc
        raise NotWellFormed(msg, line, column) from exc
    if root is None:
        raise NotWellFormed("no root element", 1, 1)
    tree = root.getroottree()
    if _deeper_than(limits.max_depth)(root):
        raise TooLarge(f"element nesting is deeper than {limits.max_depth} levels")
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ForbiddenConstruct("DOCTYPE declarations are not allowed", 1, None)
    return tree
