"""What the emulated SEFAZ remembers and the switches that bend it, behind one lock.

The store keeps what SEFAZ keeps: authorized and denied NF-e (never rejected ones), events and
inutilizações, each with the XML it answered, so a consulta can answer them again. It can be
persisted to a JSON file (at most every half second, and on stop), so an emulator restarted on the
same file remembers.
Switches and the clock are runtime only.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DOWN_MODES = ("108", "109", "hang", "close")
SAVE_INTERVAL = 0.5  # seconds between two writes of the state file


class SwitchError(ValueError):
    """A switch patch the emulator cannot apply (unknown key or bad value)."""


@dataclass
class ForcedRejection:
    cstat: int = 999
    xmotivo: str = "Rejeição: Erro não catalogado (rejeição forçada)"
    remaining: int | None = None  # None: every authorization until cleared


@dataclass
class Switches:
    delay_ms: int = 0
    down: str | None = None
    irregular_emitentes: set[str] = field(default_factory=set)
    irregular_destinatarios: set[str] = field(default_factory=set)
    forced: ForcedRejection | None = None
    clock_fixed: datetime.datetime | None = None
    clock_offset: datetime.timedelta = datetime.timedelta(0)

    def as_json(self) -> dict[str, Any]:
        return {
            "delayMs": self.delay_ms,
            "down": self.down,
            "irregularEmitentes": sorted(self.irregular_emitentes),
            "irregularDestinatarios": sorted(self.irregular_destinatarios),
            "forcedRejection": None
            if self.forced is None
            else {"cStat": self.forced.cstat, "xMotivo": self.forced.xmotivo, "count": self.forced.remaining},
            "clock": {
                "fixed": None if self.clock_fixed is None else self.clock_fixed.isoformat(),
                "offsetSeconds": self.clock_offset.total_seconds(),
            },
        }

    def apply(self, patch: dict[str, Any]) -> None:
        """Apply a JSON patch (the admin endpoint's body): only the keys given change, and nothing
        changes when any of them is refused."""
        trial = copy.deepcopy(self)
        trial._apply(patch)
        for name in vars(trial):
            setattr(self, name, getattr(trial, name))

    def _apply(self, patch: dict[str, Any]) -> None:
        known = {"delayMs", "down", "irregularEmitentes", "irregularDestinatarios", "forcedRejection", "clock"}
        unknown = set(patch) - known
        if unknown:
            raise SwitchError(f"unknown switches {sorted(unknown)}; known: {sorted(known)}")
        if "delayMs" in patch:
            delay = patch["delayMs"]
            if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
                raise SwitchError("delayMs must be a non-negative integer")
            self.delay_ms = delay
        if "down" in patch:
            down = patch["down"]
            down = None if down in (None, False, "") else str(down)
            if down is not None and down not in DOWN_MODES:
                raise SwitchError(f"down must be null or one of {DOWN_MODES}")
            self.down = down
        for key, attr in (
            ("irregularEmitentes", "irregular_emitentes"),
            ("irregularDestinatarios", "irregular_destinatarios"),
        ):
            if key in patch:
                values = patch[key]
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    raise SwitchError(f"{key} must be a list of CNPJ/CPF strings")
                setattr(self, attr, set(values))
        if "forcedRejection" in patch:
            self.forced = _forced(patch["forcedRejection"])
        if "clock" in patch:
            self._clock(patch["clock"])

    def _clock(self, clock: Any) -> None:
        if clock is None:
            self.clock_fixed, self.clock_offset = None, datetime.timedelta(0)
            return
        if not isinstance(clock, dict) or set(clock) - {"fixed", "offsetSeconds"}:
            raise SwitchError('clock must be null or {"fixed": ISO datetime | null, "offsetSeconds": number}')
        if "fixed" in clock:
            fixed = clock["fixed"]
            try:
                parsed = None if fixed is None else datetime.datetime.fromisoformat(fixed)
            except (TypeError, ValueError) as error:
                raise SwitchError(f"clock.fixed: {error}") from error
            if parsed is not None and parsed.tzinfo is None:
                raise SwitchError("clock.fixed needs a UTC offset")
            self.clock_fixed = parsed
        if "offsetSeconds" in clock:
            offset = clock["offsetSeconds"]
            if not isinstance(offset, int | float) or isinstance(offset, bool):
                raise SwitchError("clock.offsetSeconds must be a number")
            self.clock_offset = datetime.timedelta(seconds=offset)

    def now(self) -> datetime.datetime:
        base = self.clock_fixed or datetime.datetime.now(datetime.UTC)
        return base + self.clock_offset

    def take_forced(self) -> ForcedRejection | None:
        forced = self.forced
        if forced is None:
            return None
        if forced.remaining is not None:
            forced.remaining -= 1
            if forced.remaining <= 0:
                self.forced = None
        return forced


def _forced(value: Any) -> ForcedRejection | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"cStat", "xMotivo", "count"}:
        raise SwitchError('forcedRejection must be null or {"cStat": int, "xMotivo": str, "count": int | null}')
    forced = ForcedRejection()
    if "cStat" in value:
        cstat = value["cStat"]
        if not isinstance(cstat, int) or not 200 <= cstat <= 999:
            raise SwitchError("forcedRejection.cStat must be a rejection code (200-999)")
        if cstat != forced.cstat:
            forced.cstat = cstat
            forced.xmotivo = f"Rejeição: código {cstat} forçado pelo emulador"
    if "xMotivo" in value:
        forced.xmotivo = str(value["xMotivo"])
    if value.get("count") is not None:
        count = value["count"]
        if not isinstance(count, int) or count < 1:
            raise SwitchError("forcedRejection.count must be a positive integer or null")
        forced.remaining = count
    return forced


@dataclass
class StoredNFe:
    chave: str
    cnpj: str
    mod: str
    serie: int
    nnf: int
    tp_amb: str
    dh_emi: str
    cstat: int  # 100/150 authorized, 301/302 denied; 101 once cancelled
    xmotivo: str
    nprot: str
    dh_recbto: str
    dig_val: str
    prot_nfe: str  # the protNFe XML as answered
    dest: str = ""
    eventos: list[str] = field(default_factory=list)  # event Ids, in order

    @property
    def authorized(self) -> bool:
        return self.cstat in (100, 150)

    @property
    def denied(self) -> bool:
        return self.cstat in (110, 301, 302, 303)


@dataclass
class StoredEvento:
    id: str
    chave: str
    tp_evento: str
    n_seq_evento: int
    cstat: int
    nprot: str
    dh_reg_evento: str
    proc_evento: str  # procEventoNFe XML


@dataclass
class StoredInutilizacao:
    cnpj: str
    mod: str
    serie: int
    ano: str
    ini: int
    fin: int
    nprot: str
    dh_recbto: str
    x_just: str
    ret_inut: str  # the retInutNFe XML as answered


class Store:
    """All state behind one re-entrant lock; `with store.lock:` around each request's read-check-write."""

    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.path = path
        self.nfes: dict[str, StoredNFe] = {}
        self.natural: dict[tuple[str, str, int, int, str], str] = {}
        self.eventos: dict[str, StoredEvento] = {}
        self.inutilizacoes: list[StoredInutilizacao] = []
        self.sequence = 0
        self._dirty = False
        self._saved_at = -SAVE_INTERVAL
        if path is not None and path.exists():
            self._load(json.loads(path.read_text(encoding="utf-8")))

    def next_protocol(self, cuf: str, now: datetime.datetime) -> str:
        """15 digits: 1 (SEFAZ estadual) + cUF + two-digit year + a 10-digit sequence (MOC, infProt/nProt)."""
        self.sequence += 1
        return f"1{cuf}{now.year % 100:02d}{self.sequence:010d}"

    def add_nfe(self, nfe: StoredNFe) -> None:
        self.nfes[nfe.chave] = nfe
        self.natural[(nfe.cnpj, nfe.mod, nfe.serie, nfe.nnf, nfe.tp_amb)] = nfe.chave
        self.save()

    def by_natural_key(self, cnpj: str, mod: str, serie: int, nnf: int, tp_amb: str) -> StoredNFe | None:
        chave = self.natural.get((cnpj, mod, serie, nnf, tp_amb))
        return None if chave is None else self.nfes[chave]

    def add_evento(self, evento: StoredEvento) -> None:
        self.eventos[evento.id] = evento
        self.nfes[evento.chave].eventos.append(evento.id)
        self.save()

    def add_inutilizacao(self, inut: StoredInutilizacao) -> None:
        self.inutilizacoes.append(inut)
        self.save()

    def inutilizado(self, cnpj: str, mod: str, serie: int, nnf: int) -> StoredInutilizacao | None:
        for inut in self.inutilizacoes:
            if (inut.cnpj, inut.mod, inut.serie) == (cnpj, mod, serie) and inut.ini <= nnf <= inut.fin:
                return inut
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "sequence": self.sequence,
            "nfe": [asdict(nfe) for nfe in self.nfes.values()],
            "eventos": [asdict(evento) for evento in self.eventos.values()],
            "inutilizacoes": [asdict(inut) for inut in self.inutilizacoes],
        }

    def save(self) -> None:
        """Persist, at most every SAVE_INTERVAL seconds: the whole store is rewritten each time, so
        under load a write per change would cost O(n) per request. stop() flushes the rest."""
        if self.path is None:
            return
        self._dirty = True
        if time.monotonic() - self._saved_at >= SAVE_INTERVAL:
            self.flush()

    def flush(self) -> None:
        if self.path is None or not self._dirty:
            return
        self._dirty = False
        self._saved_at = time.monotonic()
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.as_json()), encoding="utf-8")
        os.replace(temporary, self.path)

    def clear(self) -> None:
        self.nfes.clear()
        self.natural.clear()
        self.eventos.clear()
        self.inutilizacoes.clear()
        self._dirty = True
        self.flush()

    def _load(self, data: dict[str, Any]) -> None:
        self.sequence = int(data.get("sequence", 0))
        for item in data.get("nfe", []):
            nfe = StoredNFe(**item)
            self.nfes[nfe.chave] = nfe
            self.natural[(nfe.cnpj, nfe.mod, nfe.serie, nfe.nnf, nfe.tp_amb)] = nfe.chave
        for item in data.get("eventos", []):
            self.eventos[item["id"]] = StoredEvento(**item)
        self.inutilizacoes = [StoredInutilizacao(**item) for item in data.get("inutilizacoes", [])]
