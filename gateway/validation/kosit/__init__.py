"""KoSIT validator configurations, report and daemon, on the gateway's validation pipeline.

- :func:`load_config` reads ``scenarios.xml`` and checks that everything it reaches is a file
  inside its repository (:mod:`.safety`);
- :class:`KositEngine` validates with it through the same steps as the gateway's own
  scenarios, and attaches KoSIT's VARL report (``ValidationReport.kosit_report``);
- :mod:`.varl` reads that report (verdict, HTML explanation);
- :mod:`.daemon` answers KoSIT's HTTP contract; :mod:`.cli` is ``gateway validate``'s KoSIT mode.
"""

from gateway.validation.kosit.cli import add_arguments, run_cli
from gateway.validation.kosit.config import KositConfig, KositScenario, load_config
from gateway.validation.kosit.engine import KositEngine, WithKosit
from gateway.validation.kosit.safety import ConfigError, bind_loaders

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
