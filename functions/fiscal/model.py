"""Typed inputs of the fiscal core: the emitente (stack config), the destinatário, the items and the nota.

Pydantic v2 models, frozen, snake_case in Python and camelCase in JSON (`razaoSocial`,
`endereco.codigoMunicipio`, ...; either form is accepted), so the stack config `nfe:emitente` and the
events parse into them directly. Every error names its field. Cheap to import: no nfelib, no lxml.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from functions.fiscal import identifiers, tax
from functions.fiscal.chave import cnf_recusado, compor_chave
from functions.fiscal.tax import Crt, IndicadorIe

__all__ = [
    "HOMOLOGACAO_XNOME",
    "Ambiente",
    "Destinatario",
    "Emitente",
    "Endereco",
    "FiscalModel",
    "InfRespTec",
    "Item",
    "NotaFiscal",
    "ProdutoFiscal",
]

# Rule E04-20 (cStat 598): in homologação dest/xNome must be this literal.
HOMOLOGACAO_XNOME = "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL"
NAT_OP_PADRAO = "Venda de mercadoria"
# Série of an emitter's own software (MOC 7.0 §2.2.6 "Séries reservadas"; rule B26-10 -> 244).
SERIE_MAX = 889
MAX_ITEMS = 990
CENTAVOS = Decimal("0.01")
# tPag values this core writes: 90 (sem pagamento) and the common means of payment; 99 (outros) needs
# xPag and 03/04 (cards) a card group, neither of which the nota carries yet.
FORMAS_PAGAMENTO = frozenset({"01", "02", "05", "15", "16", "17", "18", "90"})


class Ambiente(IntEnum):
    """tpAmb."""

    PRODUCAO = 1
    HOMOLOGACAO = 2


def _texto(value: str) -> str:
    # The XSD's TString: Latin-1 printable characters (U+0020-U+00FF), no leading or trailing blank.
    # Control characters in U+007F-U+009F are refused too, although the pattern's range covers them.
    for char in value:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F or code > 0xFF:
            raise ValueError(f"character {char!r} is not allowed in an NF-e (Latin-1 printable characters only)")
    return value


# Text fields by the XSD's lengths: Nome 2-60 (xNome, xLgr, xBairro, xMun), Texto60 1-60 (nro, xCpl,
# xFant, cProd, natOp), Descricao 1-120 (xProd), Unidade 1-6 (uCom).
Nome = Annotated[str, Field(min_length=2, max_length=60), AfterValidator(_texto)]
Texto60 = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(_texto)]
Descricao = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(_texto)]
Unidade = Annotated[str, Field(min_length=1, max_length=6), AfterValidator(_texto)]


def _ie(value: str) -> str:
    if value.strip().upper() == "ISENTO":
        return "ISENTO"
    digits = re.sub(r"[.\-/ ]", "", value)
    if not re.fullmatch(r"[0-9]{2,14}", digits):
        raise ValueError("IE must have 2 to 14 digits (or be ISENTO for the emitente)")
    return digits


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("email must look like name@domain.tld")
    return value


Cnpj = Annotated[str, AfterValidator(identifiers.normalizar_cnpj)]
DocumentoFiscal = Annotated[str, AfterValidator(identifiers.normalizar_documento_fiscal)]
Uf = Annotated[str, AfterValidator(identifiers.normalizar_uf)]
Cep = Annotated[str, AfterValidator(identifiers.normalizar_cep)]
Ncm = Annotated[str, AfterValidator(identifiers.normalizar_ncm)]
Ie = Annotated[str, AfterValidator(_ie)]
Email = Annotated[str, Field(min_length=3, max_length=60), AfterValidator(_email), AfterValidator(_texto)]


class FiscalModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )


def _blank_is_none(value: object) -> object:
    # Optional texts arrive as "" from forms and config files: absent, not an invalid empty tag.
    return None if isinstance(value, str) and not value.strip() else value


class Endereco(FiscalModel):
    logradouro: Nome
    numero: Texto60
    complemento: Texto60 | None = None
    bairro: Nome
    # uf is declared before codigoMunicipio so that the município's check can read it.
    uf: Uf
    codigo_municipio: str = Field(description="IBGE, 7 digits; its first two are the UF's IBGE code")
    municipio: Nome
    cep: Cep

    _complemento = field_validator("complemento", mode="before")(_blank_is_none)

    @field_validator("codigo_municipio")
    @classmethod
    def _municipio_in_uf(cls, value: str, info: ValidationInfo) -> str:
        return identifiers.normalizar_codigo_municipio(value, info.data.get("uf"))


class Emitente(FiscalModel):
    """The company that issues the NF-e (stack config `nfe:emitente`)."""

    cnpj: Cnpj
    razao_social: Nome
    nome_fantasia: Texto60 | None = None
    ie: Ie
    crt: int = Field(description="Código de Regime Tributário; 1 (Simples Nacional) is supported")
    endereco: Endereco
    serie: int = Field(default=1, ge=0, le=SERIE_MAX, description="the série the API emits in (0-889)")
    ambiente: Ambiente = Field(default=Ambiente.HOMOLOGACAO, description="1 produção, 2 homologação")

    _nome_fantasia = field_validator("nome_fantasia", mode="before")(_blank_is_none)

    @field_validator("crt")
    @classmethod
    def _crt_supported(cls, value: int) -> int:
        return int(tax.exigir_regime_suportado(value))


class Destinatario(FiscalModel):
    documento: DocumentoFiscal = Field(description="CPF (11 digits) or CNPJ (14, alphanumeric allowed)")
    nome: Nome
    endereco: Endereco
    indicador_ie: IndicadorIe = Field(description="1 contribuinte, 2 isento, 9 não contribuinte")
    ie: Ie | None = Field(default=None, validate_default=True)
    email: Email | None = None

    _blank = field_validator("ie", "email", mode="before")(_blank_is_none)

    @field_validator("ie")
    @classmethod
    def _ie_only_for_contribuinte(cls, value: str | None, info: ValidationInfo) -> str | None:
        indicador = info.data.get("indicador_ie")
        if indicador is None:
            return value
        if indicador is IndicadorIe.CONTRIBUINTE and value is None:
            raise ValueError("ie is required when indicadorIe is 1 (contribuinte)")
        # 2 is "contribuinte isento de inscrição": no IE to send. 9 (não contribuinte) "pode ou não
        # possuir Inscrição Estadual" (MOC, indIEDest), so an IE is optional there.
        if indicador is IndicadorIe.ISENTO and value is not None:
            raise ValueError("ie is not sent when indicadorIe is 2 (isento de inscrição)")
        if value == "ISENTO":
            raise ValueError("a contribuinte's ie is digits; an isento destinatário has indicadorIe 2")
        return value

    @property
    def cnpj(self) -> str | None:
        return self.documento if len(self.documento) == 14 else None

    @property
    def cpf(self) -> str | None:
        return self.documento if len(self.documento) == 11 else None


class ProdutoFiscal(FiscalModel):
    """A produto's fiscal snapshot, as Estoque reports it in ReservaConfirmada."""

    codigo: Texto60 = Field(description="cProd: the produto's code or SKU")
    descricao: Descricao
    ncm: Ncm
    unidade: Unidade = Field(description="uCom, e.g. UN, KG, CX")
    origem: int = Field(ge=0, le=8, description="orig: 0 nacional ... 8 (table of the MOC)")
    gtin: str = Field(default=identifiers.SEM_GTIN, validate_default=True)

    @field_validator("gtin", mode="before")
    @classmethod
    def _gtin(cls, value: str | None) -> str:
        return identifiers.normalizar_gtin(value)


class Item(FiscalModel):
    numero: int = Field(ge=1, le=MAX_ITEMS, description="nItem")
    produto: ProdutoFiscal
    quantidade: Decimal = Field(gt=0, lt=Decimal("1e11"), decimal_places=4, description="qCom")
    # 0 is a valid vUnCom (TDec_1110v): the API accepts free items, as it always has.
    valor_unitario: Decimal = Field(ge=0, lt=Decimal("1e11"), decimal_places=10, description="vUnCom")
    cfop: str | None = Field(default=None, description="4 digits; derived from the UFs when absent")

    @property
    def valor_total(self) -> Decimal:
        """vProd: quantidade x valor unitário, rounded half up to centavos."""
        return (self.quantidade * self.valor_unitario).quantize(CENTAVOS, rounding=ROUND_HALF_UP)


class InfRespTec(FiscalModel):
    """The software's responsável técnico (NT 2018.005; some UFs require it)."""

    cnpj: Cnpj
    contato: Nome
    email: Email = Field(min_length=6)
    fone: str = Field(pattern=r"^[0-9]{6,14}$")


class NotaFiscal(FiscalModel):
    """Everything the XML is built from. Same NotaFiscal, same XML, byte for byte."""

    emitente: Emitente
    destinatario: Destinatario
    numero: int = Field(ge=1, le=999_999_999, description="nNF, gapless per série")
    serie: int = Field(ge=0, le=SERIE_MAX)
    dh_emi: AwareDatetime = Field(description="emission time with its UTC offset; AAMM of the chave comes from it")
    cnf: str = Field(description="8 digits from chave.gerar_cnf")
    nat_op: Texto60 = NAT_OP_PADRAO
    tp_emis: Literal[1] = 1
    forma_pagamento: str = Field(default="90", description="tPag; 90 = sem pagamento")
    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS)
    inf_resp_tec: InfRespTec | None = None

    @field_validator("dh_emi")
    @classmethod
    def _dh_emi_fits_the_schema(cls, value: datetime) -> datetime:
        # The XSD's TDateTimeUTC: years 20xx, whole-hour offsets from -11:00 to +12:00, no fractions.
        offset = value.utcoffset()
        assert offset is not None  # AwareDatetime
        hours, rest = divmod(offset, timedelta(hours=1))
        if rest or not -11 <= hours <= 12:
            raise ValueError("dhEmi's UTC offset must be whole hours between -11:00 and +12:00")
        if not 2000 <= value.year <= 2099:
            raise ValueError("dhEmi must be within the years 2000-2099")
        return value.replace(microsecond=0)

    @field_validator("cnf")
    @classmethod
    def _cnf_accepted(cls, value: str, info: ValidationInfo) -> str:
        if not re.fullmatch(r"[0-9]{8}", value):
            raise ValueError("cNF must be 8 digits")
        numero = info.data.get("numero")
        if cnf_recusado(value, numero if numero is not None else -1):
            raise ValueError("cNF is one SEFAZ refuses (rule B03-10: repeated digits, a listed run, or nNF)")
        return value

    @field_validator("forma_pagamento")
    @classmethod
    def _forma_pagamento(cls, value: str) -> str:
        if value not in FORMAS_PAGAMENTO:
            raise ValueError(f"formaPagamento must be one of {', '.join(sorted(FORMAS_PAGAMENTO))}")
        return value

    @field_validator("items")
    @classmethod
    def _items_numbered_and_cfops_fit(cls, items: list[Item], info: ValidationInfo) -> list[Item]:
        numbers = [item.numero for item in items]
        if numbers != list(range(1, len(items) + 1)):
            raise ValueError("items must be numbered 1, 2, 3, ... in order (nItem)")
        emitente: Emitente | None = info.data.get("emitente")
        destinatario: Destinatario | None = info.data.get("destinatario")
        if emitente is not None and destinatario is not None:
            for index, item in enumerate(items):
                try:
                    tax.cfop_item(emitente.endereco.uf, destinatario.endereco.uf, item.cfop)
                except ValueError as error:
                    raise ValueError(f"items[{index}].cfop: {error}") from None
        if sum((item.valor_total for item in items), Decimal(0)) >= Decimal("1e13"):
            raise ValueError("the total of the items must be below 10^13 (vNF)")
        return items

    @property
    def ambiente(self) -> Ambiente:
        return self.emitente.ambiente

    @property
    def crt(self) -> Crt:
        return Crt(self.emitente.crt)

    @property
    def chave(self) -> str:
        return compor_chave(
            cuf=identifiers.codigo_uf(self.emitente.endereco.uf),
            dh_emi=self.dh_emi,
            cnpj=self.emitente.cnpj,
            serie=self.serie,
            numero=self.numero,
            tp_emis=self.tp_emis,
            cnf=self.cnf,
        )

    @property
    def valor_produtos(self) -> Decimal:
        """ICMSTot/vProd: the sum of the items' vProd."""
        return sum((item.valor_total for item in self.items), Decimal("0.00"))

    @property
    def valor_total(self) -> Decimal:
        """ICMSTot/vNF. No freight, insurance, discount or taxes added to the price under Simples
        Nacional's CSOSN 102, so vNF = vProd."""
        return self.valor_produtos

    def cfop(self, item: Item) -> str:
        return tax.cfop_item(self.emitente.endereco.uf, self.destinatario.endereco.uf, item.cfop)
