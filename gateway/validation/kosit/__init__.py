"""KoSIT validator configurations, report and daemon, on the gateway's validation pipeline.

- :func:`load_config` reads ``scenarios.xml`` and checks that everything it reaches is a file
  inside its repository (:mod:`.safety`);
- :class:`KositEngine` validates with it through the same steps as the gateway's own
  scenarios, and attaches KoSIT's VARL report (``ValidationReport.kosit_report``);
- :mod:`.varl` reads that report (verdict, HTML explanation);
- :mod:`.daemon` answers KoSIT's HTTP contract; :mod:`.cli` is ``gateway validate``'s KoSIT mode.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from gateway.validation.kosit.cli import add_arguments, run_cli

if TYPE_CHECKING:
    from gateway.validation.kosit.config import KositConfig, KositScenario, load_config
    from gateway.validation.kosit.engine import KositEngine, WithKosit
    from gateway.validation.kosit.safety import ConfigError, bind_loaders

#: Names imported on first use: ``gateway validate FILE`` builds the KoSIT options of its
#: parser (:mod:`.cli`, light) but uses a configuration only in KoSIT mode.
_LAZY = {
    "ConfigError": "safety",
    "KositConfig": "config",
    "KositEngine": "engine",
    "KositScenario": "config",
    "WithKosit": "engine",
    "bind_loaders": "safety",
    "load_config": "config",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "KositConfig",
    "KositEngine",
    "KositScenario",
    "WithKosit",
    "add_arguments",
    "bind_loaders",
    "load_config",
    "run_cli",
]
