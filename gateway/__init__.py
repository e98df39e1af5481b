"""einvoice-gateway: an async gateway for Peppol and e-invoice exchange."""

__version__ = "0.1.0"
