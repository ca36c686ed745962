"""An emulated SEFAZ (NF-e 4.00) for local mode and for any team's integration tests.

It stands for SEFAZ, so it imports nothing from functions/ (the code it judges). See
docs/sefaz-emulator.md; the rules are the table in rules.py.
"""

from nfe.local.sefaz.pki import Emitente, Pki, cnpj_from_certificate, ensure_pki
from nfe.local.sefaz.server import SefazEmulator

__all__ = ["Emitente", "Pki", "SefazEmulator", "cnpj_from_certificate", "ensure_pki"]
