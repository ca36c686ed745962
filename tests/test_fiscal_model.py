"""The fiscal inputs (emitente, destinatário, items, nota) and the tax rules per regime."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from functions.fiscal import tax
from functions.fiscal.model import Ambiente, Destinatario, Emitente, NotaFiscal
from tests.helpers.fiscal_notas import DESTINATARIO, EMITENTE, item, nota, nota_json


def _errors(model: type[BaseModel], data: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return {tuple(e["loc"]): e["msg"] for e in info.value.errors()}


def _with(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(data)
    target = result
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is None:
        target.pop(keys[-1], None)
    else:
        target[keys[-1]] = value
    return result


def test_emitente_parses_camel_case_config_and_normalises() -> None:
    emitente = Emitente.model_validate(EMITENTE)
    assert emitente.cnpj == "11222333000181"
    assert emitente.razao_social == "Empresa de Teste Ltda"
    assert emitente.ie == "110042490114"
    assert emitente.endereco.codigo_municipio == "3550308"
    assert emitente.endereco.cep == "01310100"
    assert (emitente.serie, emitente.ambiente, emitente.crt) == (1, Ambiente.HOMOLOGACAO, 1)
    # snake_case works too (populate_by_name), and dumping by alias gives the config's shape back.
    assert Emitente.model_validate(emitente.model_dump()) == emitente
    assert Emitente.model_validate(emitente.model_dump(by_alias=True)) == emitente
    assert "razaoSocial" in emitente.model_dump(by_alias=True)


def test_emitente_defaults_and_alphanumeric_cnpj() -> None:
    data = _with(_with(_with(EMITENTE, "serie", None), "ambiente", None), "cnpj", "12.ABC.345/01DE-35")
    emitente = Emitente.model_validate(data)
    assert (emitente.serie, emitente.ambiente, emitente.cnpj) == (1, Ambiente.HOMOLOGACAO, "12ABC34501DE35")


@pytest.mark.parametrize(
    ("path", "value", "loc", "message"),
    [
        ("crt", 3, ("crt",), "CRT 3 (REGIME_NORMAL) is not supported yet"),
        ("crt", 2, ("crt",), "not supported yet"),
        ("crt", 7, ("crt",), "not a Código de Regime Tributário"),
        ("cnpj", "11.222.333/0001-80", ("cnpj",), "check digits"),
        ("serie", 890, ("serie",), "less than or equal to 889"),
        ("ambiente", 3, ("ambiente",), "1 or 2"),
        ("endereco.codigoMunicipio", "3304557", ("endereco", "codigoMunicipio"), "belongs to RJ, not to SP"),
        ("endereco.uf", "XX", ("endereco", "uf"), "unknown UF"),
        ("endereco.cep", "123", ("endereco", "cep"), "CEP must have 8 digits"),
        ("razaoSocial", "Empresa \u20ac", ("razaoSocial",), "Latin-1"),
        ("razaoSocial", "E", ("razaoSocial",), "at least 2"),
        ("ie", "12A", ("ie",), "IE must have 2 to 14 digits"),
        ("extra", "x", ("extra",), "Extra inputs"),
    ],
)
def test_emitente_errors_name_the_field(path: str, value: Any, loc: tuple[str, ...], message: str) -> None:
    errors = _errors(Emitente, _with(EMITENTE, path, value))
    assert loc in errors, errors
    assert message in errors[loc]


def test_destinatario_ie_rules() -> None:
    contribuinte = _with(_with(DESTINATARIO, "indicadorIe", 1), "documento", "11.444.777/0001-61")
    assert ("ie",) in _errors(Destinatario, contribuinte)
    assert Destinatario.model_validate(_with(contribuinte, "ie", "123456789")).cnpj == "11444777000161"
    isento = _with(_with(DESTINATARIO, "indicadorIe", 2), "ie", "123456789")
    assert "not sent when indicadorIe is 2" in _errors(Destinatario, isento)[("ie",)]
    assert Destinatario.model_validate(_with(DESTINATARIO, "ie", "123456789")).ie == "123456789"
    assert Destinatario.model_validate(DESTINATARIO).cpf == "52998224725"
    assert ("indicadorIe",) in _errors(Destinatario, _with(DESTINATARIO, "indicadorIe", 3))
    assert ("documento",) in _errors(Destinatario, _with(DESTINATARIO, "documento", "529.982.247-24"))


def test_item_and_produto_errors_name_the_field() -> None:
    data = nota_json(
        items=[
            item(1, quantidade="1.00001"),
            item(2, produto={**item(2)["produto"], "ncm": "1234", "gtin": "7891000315508", "origem": 9}),
        ]
    )
    errors = _errors(NotaFiscal, data)
    assert ("items", 0, "quantidade") in errors
    assert "NCM must have 8 digits" in errors[("items", 1, "produto", "ncm")]
    assert "check digit" in errors[("items", 1, "produto", "gtin")]
    assert ("items", 1, "produto", "origem") in errors


def test_produto_without_gtin_is_sem_gtin() -> None:
    assert nota().items[1].produto.gtin == "SEM GTIN"


@pytest.mark.parametrize(
    ("overrides", "loc", "message"),
    [
        ({"cnf": "12345678"}, ("cnf",), "rule B03-10"),
        ({"cnf": "00000123"}, ("cnf",), "rule B03-10"),  # equal to nNF 123
        ({"cnf": "1234"}, ("cnf",), "8 digits"),
        ({"dhEmi": "2026-12-06T10:30:00"}, ("dhEmi",), "timezone"),
        ({"dhEmi": "2026-12-06T10:30:00-03:30"}, ("dhEmi",), "whole hours"),
        ({"numero": 0}, ("numero",), "greater than or equal to 1"),
        ({"items": []}, ("items",), "at least 1"),
        ({"items": [item(2)]}, ("items",), "numbered 1, 2, 3"),
        ({"items": [item(1, cfop="5102")]}, ("items",), "items[0].cfop: CFOP 5102 does not fit"),
        ({"formaPagamento": "99"}, ("formaPagamento",), "formaPagamento must be one of"),
        ({"tpEmis": 6}, ("tpEmis",), "1"),
    ],
)
def test_nota_errors_name_the_field(overrides: dict[str, Any], loc: tuple[str, ...], message: str) -> None:
    errors = _errors(NotaFiscal, nota_json(**overrides))
    assert loc in errors, errors
    assert message in errors[loc]


def test_nota_totals_and_chave() -> None:
    n = nota()
    # 2 x 149.90 = 299.80; 1.5 x 10.333 = 15.4995 -> 15.50 (half up)
    assert [i.valor_total for i in n.items] == [Decimal("299.80"), Decimal("15.50")]
    assert n.valor_produtos == n.valor_total == Decimal("315.30")
    assert n.chave.startswith("3526121122233300018155001000000123124681357")
    assert n.dh_emi.microsecond == 0


def test_tax_rules_for_simples_nacional() -> None:
    impostos = tax.impostos_item(1, origem=2)
    assert (impostos.icms_grupo, impostos.orig, impostos.csosn) == ("ICMSSN102", 2, "102")
    assert (impostos.pis_grupo, impostos.pis_cst, impostos.cofins_grupo, impostos.cofins_cst) == (
        "PISOutr",
        "99",
        "COFINSOutr",
        "99",
    )
    assert impostos.v_pis == impostos.v_cofins == Decimal("0")
    with pytest.raises(ValueError, match="origem must be 0-8"):
        tax.impostos_item(1, origem=9)
    assert "SIMPLES NACIONAL" in (tax.informacoes_complementares(1) or "")


@pytest.mark.parametrize("crt", [2, 3, 4])
def test_other_regimes_are_not_supported_yet(crt: int) -> None:
    with pytest.raises(tax.RegimeNaoSuportado, match=f"CRT {crt} .* is not supported yet"):
        tax.impostos_item(crt, origem=0)


def test_cfop_id_dest_ind_final_ind_pres() -> None:
    assert tax.cfop_item("SP", "SP") == "5102"
    assert tax.cfop_item("SP", "RJ") == "6102"
    assert tax.cfop_item("SP", "sp", "5405") == "5405"
    with pytest.raises(ValueError, match="must start with 6"):
        tax.cfop_item("SP", "RJ", "5102")
    with pytest.raises(ValueError, match="4 digits"):
        tax.cfop_item("SP", "SP", "510")
    assert (tax.id_dest("SP", "SP"), tax.id_dest("SP", "RJ")) == (1, 2)
    assert (tax.ind_final(9), tax.ind_final(1), tax.ind_final(2)) == (1, 0, 0)
    # indPres 1 needs no indIntermed (rule B25c-10); 2, 3, 4 and 9 would.
    assert tax.IND_PRES_PADRAO == 1
    assert tax.ind_intermed(1) is None
    assert [tax.ind_intermed(p) for p in (2, 3, 4, 9)] == [0, 0, 0, 0]


def test_cheap_modules_do_not_import_the_heavy_libraries() -> None:
    # Given a fresh interpreter / When the validators' modules are imported / Then no nfelib, lxml, fpdf
    # (the bare "erpbrasil" namespace package is preloaded by its -nspkg.pth at start-up, so the check
    # looks for erpbrasil.assinatura instead)
    code = (
        "import sys; import functions.fiscal, functions.fiscal.chave, functions.fiscal.identifiers, "
        "functions.fiscal.tax, functions.fiscal.model; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('nfelib', 'lxml', 'fpdf', 'xsdata', 'brazilfiscalreport', 'signxml', 'cryptography') "
        "or m.startswith('erpbrasil.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_blank_optional_texts_are_absent() -> None:
    data = _with(_with(EMITENTE, "nomeFantasia", " "), "endereco.complemento", "")
    emitente = Emitente.model_validate(data)
    assert emitente.nome_fantasia is None and emitente.endereco.complemento is None
    assert Destinatario.model_validate({**DESTINATARIO, "ie": "", "email": ""}).email is None


def test_emitente_from_pydantic_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the emitente as JSON in the environment (as a function's settings would read it)
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="NFE_")
        emitente: Emitente

    monkeypatch.setenv("NFE_EMITENTE", json.dumps(EMITENTE))
    assert Settings().emitente == Emitente.model_validate(EMITENTE)  # type: ignore[call-arg]
    # And a bad CRT stops it, naming the key
    monkeypatch.setenv("NFE_EMITENTE", json.dumps({**EMITENTE, "crt": 3}))
    with pytest.raises(ValidationError, match=r"emitente\.crt\n.*not supported yet"):
        Settings()  # type: ignore[call-arg]
