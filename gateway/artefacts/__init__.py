"""Official validation artefacts (XSD, compiled Schematron): pinned manifests and the installer.

The gateway never reads artefacts from where they were downloaded: ``gateway artefacts install``
verifies every file against the sha256 pinned in ``schemas/manifest.toml`` and
``validation-rules/manifest.toml`` and installs them atomically into the data directory.
"""

from gateway.artefacts.install import ArtefactError, install_artefacts, installed_info
from gateway.artefacts.manifest import Bundle, load_manifest

__all__ = ["ArtefactError", "Bundle", "install_artefacts", "installed_info", "load_manifest"]
