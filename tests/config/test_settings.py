from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_settings


def test_precedence_file_then_env(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text(
        'data_dir = "/srv/gw"\n[http]\nport = 9000\nhost = "0.0.0.0"\n'
        '[outbound]\nretry_initial = 2\n[[routes]]\nparticipant = "0204:*"\nurl = "http://x"\n'
    )
    s = load_settings(cfg, env={"GATEWAY_HTTP_PORT": "9100", "GATEWAY_OUTBOUND_MAX_ATTEMPTS": "3"})
    assert s.data_dir == Path("/srv/gw") and s.http.host == "0.0.0.0"
    assert s.http.port == 9100  # environment wins over the file
    assert s.outbound.retry_initial == 2.0 and s.outbound.max_attempts == 3
    assert s.routes[0].participant == "0204:*" and s.routes[0].transport == "http"
    assert s.effective_database_url == "sqlite+aiosqlite:////srv/gw/gateway.db"


def test_errors_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"http\.port"):
        load_settings(env={"GATEWAY_HTTP_PORT": "eighty"})
    cfg = tmp_path / "g.toml"
    cfg.write_text("[http]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting.*prot"):
        load_settings(cfg, env={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})


def test_example_config_loads() -> None:
    from gateway.resources import data_folder

    s = load_settings(data_folder("config") / "gateway.example.toml", env={})
    assert s.http.port == 8080 and s.smtp.port == 0 and s.validation.jobs == 2
    assert s.as4.clock_skew_seconds == 300.0 and s.outbound.smp_verify_signature is True
