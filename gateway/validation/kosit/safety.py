"""A KoSIT configuration reads files from its repository and nothing else.

Why: a configuration is data someone hands the gateway, and its stylesheets are programs. KoSIT's
advisory GHSA-hg2c-p2m3-q29m was a configuration stylesheet that included a remote stylesheet.
So before anything is compiled, every file the configuration can reach is checked:

- each XSD and XSLT, and everything they include, import or redefine (followed recursively),
  must be a file inside the repository: no URL of any scheme, no absolute path, no ``..`` out;
- every file is parsed with no external DTD, no entity expansion and no network (a DOCTYPE
  naming an external DTD is refused);
- a stylesheet may not load documents at run time (``doc``, ``document``, ``unparsed-text``,
  ``collection``, ``json-doc``, ``transform``, ... with anything but a literal that resolves
  inside the repository), evaluate XPath built at run time (``xsl:evaluate``) or write files
  (``xsl:result-document``).

Behind these checks, the one Saxon processor allows only ``file:`` URIs at all
(:mod:`gateway.validation.saxon`), and libxml2 loads schemas with ``no_network``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

XSL = "http://www.w3.org/1999/XSL/Transform"
XSD = "http://www.w3.org/2001/XMLSchema"

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=False
)
# Functions that read a resource named by their first argument, unprefixed or as fn:.
_LOADERS = re.compile(
    r"(?<![\w.:\-$])(?:fn:)?(doc|document|doc-available|unparsed-text|unparsed-text-lines|"
    r"unparsed-text-available|collection|uri-collection|json-doc|transform|"
    r"load-xquery-module)\s*\(\s*(\)|'([^']*)'\s*\)|\"([^\"]*)\"\s*\)|)"
)
_FORBIDDEN_ELEMENTS = {f"{{{XSL}}}evaluate", f"{{{XSL}}}result-document"}


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which file and why."""


def inside(path: Path, repository: Path) -> bool:
    return Path(path).resolve().is_relative_to(repository.resolve())


def read_xml(path: Path, data: bytes | None = None) -> etree._Element:
    """Parse a configuration file safely (no external DTD, entity expansion or network)."""
    try:
        tree = etree.fromstring(
            data if data is not None else path.read_bytes(), _PARSER
        ).getroottree()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"{path}: not well-formed XML: {exc}") from exc
    if tree.docinfo.system_url or tree.docinfo.public_id:
        raise ConfigError(
            f"{path}: its DOCTYPE names an external DTD (configuration files may have only an "
            "internal subset, as the UBL signature schema does)"
        )
    return tree.getroot()


def check_resources(repository: Path, xsds: list[str], xslts: list[str]) -> None:
    """Follow every XSD and XSLT from the configuration; raise on anything outside."""
    seen: set[Path] = set()
    for rel in xsds:
        _follow(repository / rel, repository, seen, _schema_refs)
    for rel in xslts:
        _follow(repository / rel, repository, seen, _stylesheet_refs)


def _follow(path: Path, repository: Path, seen: set[Path], refs) -> None:  # type: ignore[no-untyped-def]
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    if not inside(path, repository):
        raise ConfigError(f"{path} lies outside the configuration's repository {repository}")
    if not path.is_file():
        raise ConfigError(f"missing configuration file {path}")
    root = read_xml(path)
    for href in refs(root, path, repository):
        _follow(_resolve(href, path, repository), repository, seen, refs)


def _resolve(href: str, base: Path, repository: Path) -> Path:
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", href) or href.startswith(("/", "\\")):
        raise ConfigError(
            f"{base}: refers to {href!r}; configuration files may refer only to files beside "
            "them in the repository (relative paths), never to URLs or absolute paths"
        )
    target = (base.parent / unquote(href.split("#", 1)[0])).resolve()
    if not inside(target, repository):
        raise ConfigError(f"{base}: refers to {href!r}, outside the repository {repository}")
    return target


def _schema_refs(root: etree._Element, path: Path, repository: Path) -> list[str]:
    tags = {f"{{{XSD}}}{n}" for n in ("include", "import", "redefine", "override")}
    return [el.get("schemaLocation") for el in root.iter(*tags) if el.get("schemaLocation")]


def _stylesheet_refs(root: etree._Element, path: Path, repository: Path) -> list[str]:
    hrefs = []
    for el in root.iter(etree.Element):
        if el.tag in _FORBIDDEN_ELEMENTS:
            raise ConfigError(f"{path}: uses {etree.QName(el).localname} (not allowed)")
        if el.tag in (f"{{{XSL}}}include", f"{{{XSL}}}import", f"{{{XSL}}}use-package"):
            href = el.get("href")
            if href is None:
                raise ConfigError(f"{path}: {etree.QName(el).localname} without href")
            hrefs.append(href)
        if el.tag == f"{{{XSL}}}import-schema" and el.get("schema-location"):
            hrefs.append(el.get("schema-location"))
        for value in el.attrib.values():
            _check_loaders(value, path, repository)
    return hrefs


def _check_loaders(expression: str, path: Path, repository: Path) -> None:
    for m in _LOADERS.finditer(expression):
        literal = m.group(3) if m.group(3) is not None else m.group(4)
        if m.group(2) == ")" and m.group(1) == "collection":
            literal = None  # the default collection: refuse
        if literal is None:
            raise ConfigError(
                f"{path}: calls {m.group(1)}() with a computed argument; configuration "
                "stylesheets may load only named files inside the repository"
            )
        if literal == "" and m.group(1) == "document":
            continue  # document('') is the stylesheet itself
        _resolve(literal, path, repository)


def bind_loaders(root: etree._Element, path: Path, folder: Path) -> int:
    """Point every ``doc('name')`` / ``document('name')`` of the stylesheet ``root`` (read
    from ``path``) at the absolute ``file:`` URI of the file it names inside ``folder``.

    Why: Saxon resolves those names against the static base URI, which a stylesheet compiled
    from text does not keep (it resolved ``document('FACTUR-X_EN16931_codedb.xml')`` in the
    process's working directory). Binding them here is the resolver: a name that leaves
    ``folder``, a URL, or a computed argument raises :class:`ConfigError` (the rules above), so
    a stylesheet can read only the files of its own bundle folder. Returns how many were bound.
    """
    bound = 0

    def bind(m: re.Match[str]) -> str:
        nonlocal bound
        literal = m.group(3) if m.group(3) is not None else m.group(4)
        if literal is None or (literal == "" and m.group(1) == "document"):
            return m.group(0)
        bound += 1
        return f"{m.group(1)}('{_resolve(literal, path, folder).as_uri()}')"

    for el in root.iter(etree.Element):
        for name, value in el.attrib.items():
            if "(" not in value:
                continue
            _check_loaders(value, path, folder)
            new = _LOADERS.sub(bind, value)
            if new != value:
                el.set(name, new)
    return bound
