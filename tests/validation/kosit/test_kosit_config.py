"""Loading KoSIT configurations: the real one from ../shared, and malicious ones that try to
reach outside their directory (KoSIT's advisory GHSA-hg2c-p2m3-q29m)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.validation import load_scenarios
from gateway.validation.kosit import ConfigError, KositEngine, load_config

S = "http://www.xoev.de/de/validator/framework/1/scenarios"
XSL = "http://www.w3.org/1999/XSL/Transform"


def test_the_xrechnung_configuration_loads(kosit_config_dir: Path) -> None:
    config = load_config(kosit_config_dir)
    assert config.name == "Validator Configuration XRechnung 3.0.2"
    assert config.repository == kosit_config_dir.resolve()
    assert config.fallback_report == "resources/default-report.xsl"
    names = [k.scenario.name for k in config.scenarios]
    assert "EN16931 XRechnung (UBL Invoice)" in names and "EN16931 (CII)" in names
    first = config.scenarios[0]
    assert first.namespaces["invoice"] == "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    assert first.accept_match == "/rep:report/rep:assessment[1]/rep:accept[1]"
    assert [layer.source for layer in first.scenario.schematron] == ["en16931", "xrechnung"]
    assert first.scenario.schema == "resources/ubl/2.1/xsd/maindoc/UBL-Invoice-2.1.xsd"


def test_custom_levels_equal_our_xrechnung_overrides(kosit_config_dir: Path) -> None:
    """Our own XRechnung scenarios carry KoSIT's customLevel entries; so does KoSIT mode."""
    ours = {s.name: s.severity for s in load_scenarios() if s.id.startswith("xrechnung")}
    theirs = {k.scenario.name: k.scenario.severity for k in load_config(kosit_config_dir).scenarios}
    assert any(theirs.values())
    for severity in (v for v in theirs.values() if v):
        assert severity in ours.values()


def test_repository_option_points_elsewhere(kosit_config_dir: Path, tmp_path: Path) -> None:
    shutil.copy(kosit_config_dir / "scenarios.xml", tmp_path / "scenarios.xml")
    config = load_config(tmp_path, repository=kosit_config_dir)
    assert config.repository == kosit_config_dir.resolve()
    with pytest.raises(ConfigError, match="missing configuration file"):
        load_config(tmp_path)


def _config(tmp_path: Path, report_xsl: str, schema_location: str = "s.xsd") -> Path:
    """A one-scenario configuration whose report stylesheet is ``report_xsl``."""
    (tmp_path / "s.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a" type="xs:string"/></xs:schema>'
    )
    (tmp_path / "r.xsl").write_text(report_xsl)
    (tmp_path / "scenarios.xml").write_text(
        f"""<scenarios xmlns="{S}" frameworkVersion="1.0.0"><name>t</name>
        <scenario><name>a</name><match>/a</match>
          <validateWithXmlSchema><resource><name>s</name><location>{schema_location}</location>
          </resource></validateWithXmlSchema>
          <createReport><resource><name>r</name><location>r.xsl</location></resource></createReport>
        </scenario>
        <noScenarioReport><resource><name>r</name><location>r.xsl</location></resource>
        </noScenarioReport></scenarios>"""
    )
    return tmp_path


def _xsl(body: str) -> str:
    return f'<xsl:stylesheet version="2.0" xmlns:xsl="{XSL}">{body}</xsl:stylesheet>'


GOOD = _xsl('<xsl:template match="/"><r/></xsl:template>')


@pytest.mark.parametrize(
    ("stylesheet", "complaint"),
    [
        (_xsl('<xsl:include href="http://127.0.0.1:9/evil.xsl"/>'), "never to URLs"),
        (_xsl('<xsl:import href="https://example.org/evil.xsl"/>'), "never to URLs"),
        (_xsl('<xsl:include href="../outside.xsl"/>'), "outside the repository"),
        (_xsl('<xsl:include href="/etc/evil.xsl"/>'), "absolute paths"),
        (_xsl('<xsl:include href="file:///etc/evil.xsl"/>'), "never to URLs"),
        (
            _xsl(
                '<xsl:template match="/"><xsl:copy-of select="doc(\'/etc/passwd\')"/></xsl:template>'
            ),
            "absolute paths",
        ),
        (
            _xsl(
                '<xsl:template match="/"><xsl:value-of select="unparsed-text($u)"/></xsl:template>'
            ),
            "computed argument",
        ),
        (
            _xsl(
                '<xsl:template match="/"><xsl:copy-of select="fn:document(\'http://x/y\')" '
                'xmlns:fn="http://www.w3.org/2005/xpath-functions"/></xsl:template>'
            ),
            "never to URLs",
        ),
        (
            _xsl(
                '<xsl:template match="/"><xsl:result-document href="/tmp/x"><a/>'
                "</xsl:result-document></xsl:template>"
            ),
            "result-document",
        ),
        (
            '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">' + GOOD,
            "external DTD",
        ),
    ],
)
def test_malicious_stylesheets_are_refused(tmp_path: Path, stylesheet: str, complaint: str) -> None:
    (tmp_path.parent / "outside.xsl").write_text(GOOD)
    with pytest.raises(ConfigError, match=complaint):
        load_config(_config(tmp_path, stylesheet))


def test_schema_imports_are_followed(tmp_path: Path) -> None:
    _config(tmp_path, GOOD)
    (tmp_path / "s.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        '<xs:import namespace="urn:x" schemaLocation="http://127.0.0.1:9/x.xsd"/></xs:schema>'
    )
    with pytest.raises(ConfigError, match="never to URLs"):
        load_config(tmp_path)


def test_resources_outside_the_repository_are_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "s.xsd").write_text("<x/>")
    with pytest.raises(ConfigError, match="outside the repository"):
        load_config(_config(repo, GOOD, schema_location="../s.xsd"))
    with pytest.raises(ConfigError, match="not relative"):
        load_config(_config(repo, GOOD, schema_location="/etc/passwd"))


def test_a_harmless_configuration_validates(tmp_path: Path) -> None:
    engine = KositEngine(_config(tmp_path, GOOD))
    report = engine.validate(b"<a/>", name="a.xml")
    assert report.scenario_name == "a"
    assert report.kosit_report is not None and "<r" in report.kosit_report
    # no acceptMatch: acceptable when the XSD passed and nothing fired
    assert report.status == "accepted"
    assert engine.validate(b"<a><b/></a>").status == "rejected"
