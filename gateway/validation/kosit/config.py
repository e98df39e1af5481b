"""A KoSIT validator configuration (``scenarios.xml`` + its repository) as a scenario set.

Each KoSIT ``<scenario>`` becomes a :class:`~gateway.validation.scenarios.Scenario` the
pipeline's steps already know (one XSD, ordered Schematron layers, the ``customLevel`` entries
as severity overrides), plus what only KoSIT has: the ``match`` and ``acceptMatch`` XPath
expressions with the scenario's namespaces, the report stylesheet and the scenario element
itself (copied into ``createReportInput``). Every path is relative to the repository, and
:mod:`.safety` checks every file the configuration reaches before anything is compiled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from gateway.validation.kosit.safety import ConfigError, check_resources, inside, read_xml
from gateway.validation.scenarios import Layer, Scenario

S = "http://www.xoev.de/de/validator/framework/1/scenarios"
_S = f"{{{S}}}"
_LEVELS = {"error": "error", "warning": "warning", "information": "information"}


@dataclass(frozen=True)
class KositScenario:
    """What a KoSIT scenario adds to the gateway's :class:`Scenario`."""

    scenario: Scenario
    match: str
    namespaces: dict[str, str]
    report: str  # the report stylesheet, relative to the repository
    accept_match: str | None
    element: etree._Element = field(compare=False, repr=False)
    schema_resource: etree._Element | None = field(compare=False, repr=False)
    schematron_resources: tuple[etree._Element, ...] = field(compare=False, repr=False)


@dataclass(frozen=True)
class KositConfig:
    path: Path  # scenarios.xml
    repository: Path
    name: str
    scenarios: tuple[KositScenario, ...]
    fallback_report: str  # noScenarioReport's stylesheet
    text: bytes = field(repr=False)  # scenarios.xml as read (for the daemon's config endpoint)

    def by_id(self) -> dict[str, KositScenario]:
        return {k.scenario.id: k for k in self.scenarios}


def load_config(directory: Path, repository: Path | None = None) -> KositConfig:
    """Read ``directory/scenarios.xml`` (or a scenarios file given directly).

    Raises :class:`ConfigError` naming the problem: a missing file, a resource outside the
    repository, a remote or outside include, a stylesheet that loads documents at run time.
    """
    directory = Path(directory)
    path = directory if directory.is_file() else directory / "scenarios.xml"
    if not path.is_file():
        raise ConfigError(f"no KoSIT configuration at {path} (expected scenarios.xml)")
    repository = Path(repository or path.parent).resolve()
    text = path.read_bytes()
    root = read_xml(path, text)
    if root.tag != f"{_S}scenarios":
        raise ConfigError(f"{path}: not a KoSIT scenarios file (root {root.tag})")
    scenarios = tuple(
        _scenario(el, index, repository, path)
        for index, el in enumerate(root.iter(f"{_S}scenario"), start=1)
    )
    if not scenarios:
        raise ConfigError(f"{path}: no <scenario>")
    fallback = root.find(f"{_S}noScenarioReport/{_S}resource/{_S}location")
    if fallback is None or not (fallback.text or "").strip():
        raise ConfigError(f"{path}: no <noScenarioReport> resource")
    fallback_report = _located(fallback.text or "", repository, path)
    check_resources(
        repository,
        xsds=[k.scenario.schema for k in scenarios],
        xslts=[
            *(layer.file for k in scenarios for layer in k.scenario.schematron),
            *(k.report for k in scenarios),
            fallback_report,
        ],
    )
    return KositConfig(
        path=path,
        repository=repository,
        name=(root.findtext(f"{_S}name") or path.parent.name).strip(),
        scenarios=scenarios,
        fallback_report=fallback_report,
        text=text,
    )


def _scenario(el: etree._Element, index: int, repository: Path, path: Path) -> KositScenario:
    name = (el.findtext(f"{_S}name") or f"scenario {index}").strip()
    where = f"{path}: scenario {name!r}"
    match = (el.findtext(f"{_S}match") or "").strip()
    if not match:
        raise ConfigError(f"{where}: no <match>")
    namespaces = {ns.get("prefix", ""): (ns.text or "").strip() for ns in el.iter(f"{_S}namespace")}
    schema_resource = el.find(f"{_S}validateWithXmlSchema/{_S}resource")
    if schema_resource is None:
        raise ConfigError(f"{where}: no <validateWithXmlSchema>")
    schematron_resources = tuple(el.iterfind(f"{_S}validateWithSchematron/{_S}resource"))
    report = el.find(f"{_S}createReport/{_S}resource/{_S}location")
    if report is None:
        raise ConfigError(f"{where}: no <createReport> resource")
    severity: dict[str, str] = {}
    for custom in el.iterfind(f"{_S}createReport/{_S}customLevel"):
        level = _LEVELS.get((custom.get("level") or "").strip())
        if level is None:
            raise ConfigError(f"{where}: unknown customLevel {custom.get('level')!r}")
        for rule in (custom.text or "").split():
            severity[rule] = level
    layers = tuple(
        Layer(
            source=_source(res, n),
            file=_located(res.findtext(f"{_S}location") or "", repository, path),
        )
        for n, res in enumerate(schematron_resources, start=1)
    )
    scenario = Scenario(
        id=f"kosit-{index}",
        name=name,
        root="",
        customization_id=(),
        schema=_located(schema_resource.findtext(f"{_S}location") or "", repository, path),
        schematron=layers,
        severity=severity,
    )
    accept = (el.findtext(f"{_S}acceptMatch") or "").strip() or None
    return KositScenario(
        scenario=scenario,
        match=match,
        namespaces=namespaces,
        report=_located(report.text or "", repository, path),
        accept_match=accept,
        element=el,
        schema_resource=schema_resource,
        schematron_resources=schematron_resources,
    )


def _source(resource: etree._Element, n: int) -> str:
    """A short name for the layer (report timings, finding ``source``): from the file name."""
    location = (resource.findtext(f"{_S}location") or "").lower()
    for key in ("xrechnung", "en16931", "peppol"):
        if key in location:
            return key
    return f"schematron-{n}"


def _located(location: str, repository: Path, path: Path) -> str:
    location = location.strip()
    if not location:
        raise ConfigError(f"{path}: a resource without <location>")
    if "://" in location or location.startswith(("/", "\\")):
        raise ConfigError(
            f"{path}: resource {location!r} is not relative to the repository "
            "(only files inside the configuration's repository are read)"
        )
    if not inside(repository / location, repository):
        raise ConfigError(f"{path}: resource {location!r} lies outside the repository")
    return location
