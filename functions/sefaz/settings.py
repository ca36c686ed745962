"""Settings of the SEFAZ participant (sefaz-autorizador): the bus, the archive, the certificate; no database."""

from __future__ import annotations

from pydantic import Field

from functions.fiscal.model import Emitente
from functions.shared.settings import RedeliverySettings


class SefazSettings(RedeliverySettings):
    # Its answers go straight on the bus (it has no outbox: no database).
    event_bus_name: str
    # The emitente (nfe:emitente, EMITENTE): whose números an inutilização covers (its CNPJ and UF).
    emitente: Emitente
    # The ARN (or name) of the secret holding the A1 certificate: {"pkcs12": base64, "password": ...}.
    sefaz_certificate_secret: str
    # The PEM bundle SEFAZ's server certificates must chain to (ICP-Brasil's; the emulator's CA locally).
    # Required: without it SEFAZ cannot be verified, and the function refuses to start rather than
    # sending a signed NF-e to a server it cannot trust.
    sefaz_ca_bundle: str
    # Local mode and tests only: the emulated SEFAZ's base URL in place of the endpoint table.
    sefaz_base_url: str | None = None
    # Where the nfeProc of an authorized or denied NF-e is kept; unset only in unit tests.
    fiscal_archive_bucket: str | None = None
    # The function's timeout is 60 s (nfe/topology.py): an attempt makes at most four calls.
    sefaz_connect_timeout_seconds: float = Field(5.0, gt=0, le=30)
    sefaz_read_timeout_seconds: float = Field(10.0, gt=0, le=60)
