"""One test PKI per session and one emulated SEFAZ per test module, shared by tests/test_sefaz_*.py."""

from __future__ import annotations

import atexit
import datetime
import functools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from nfe.local.sefaz import Pki, SefazEmulator, ensure_pki
from nfe.local.sefaz.pki import Emitente
from tests.helpers import sefaz_nfe as h

OTHER_CNPJ = "11444777000161"  # valid check digits, another CNPJ base than the default emitente's


@functools.cache
def pki_directory() -> Path:
    """Generated once per test session (RSA keys are the slow part), removed at exit."""
    directory = Path(tempfile.mkdtemp(prefix="sefaz-pki-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    ensure_pki(directory)
    return directory


@functools.cache
def stranger_directory() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="sefaz-stranger-pki-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


@contextmanager
def running_emulator(**options: object) -> Iterator[SefazEmulator]:
    emulator = SefazEmulator(pki_directory(), persist=False, **options)  # type: ignore[arg-type]
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@dataclass
class Env:
    """A running emulator, a client holding the emitente's certificate, and notas numbered apart."""

    emulator: SefazEmulator
    client: h.SoapClient = field(init=False)
    next_nnf: int = 1

    def __post_init__(self) -> None:
        self.client = h.SoapClient(self.emulator.url, self.pki)

    @property
    def pki(self) -> Pki:
        return self.emulator.pki

    @property
    def emitente(self) -> Emitente:
        return self.pki.emitente

    @functools.cached_property
    def stranger(self) -> Emitente:
        """The emitente's own CNPJ, in a certificate from a CA the emulator does not trust."""
        return ensure_pki(stranger_directory()).emitente

    @functools.cached_property
    def other(self) -> Emitente:
        return self.pki.issue(OTHER_CNPJ, "OUTRA EMPRESA LTDA")

    def now(self) -> datetime.datetime:
        return self.emulator.now()

    def nnf(self) -> int:
        self.next_nnf += 1
        return self.next_nnf

    def nota(self, **options: object) -> h.Nota:
        options.setdefault("nnf", self.nnf())
        options.setdefault("when", self.now() - datetime.timedelta(minutes=1))
        return h.build_nfe(**options)  # type: ignore[arg-type]

    def send(self, *signed: etree._Element, ind_sinc: str = "1") -> etree._Element:
        return self.client.call("NFeAutorizacao4", h.envi_nfe(*signed, ind_sinc=ind_sinc))

    def authorize(self, nota: h.Nota | None = None) -> tuple[h.Nota, str, etree._Element]:
        """An authorized nota, its nProt and the answer (asserting it was authorized)."""
        nota = nota or self.nota()
        signed = nota.signed(self.emitente)
        answer = self.send(signed)
        assert h.cstat(answer) == "100", etree.tostring(answer)
        return nota, h.text(answer, "n:protNFe/n:infProt/n:nProt"), signed

    def consulta(self, chave: str) -> etree._Element:
        return self.client.call("NFeConsultaProtocolo4", h.cons_sit(chave))

    def cancel(self, chave: str, nprot: str, **options: object) -> etree._Element:
        options.setdefault("when", self.now())
        emitente = options.pop("emitente", self.emitente)
        envelope = h.cancelamento(emitente, chave=chave, nprot=nprot, **options)  # type: ignore[arg-type]
        return self.client.call("NFeRecepcaoEvento4", envelope)

    def inutilizar(self, ini: int, fin: int, **options: object) -> etree._Element:
        options.setdefault("ano", self.now().year % 100)
        options.setdefault("serie", 1)
        emitente = options.pop("emitente", self.emitente)
        inut = h.inutilizacao(emitente, ini=ini, fin=fin, **options)  # type: ignore[arg-type]
        return self.client.call("NFeInutilizacao4", inut)
