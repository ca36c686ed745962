"""One test per row of the emulated SEFAZ's rule table: a request that only that row refuses (or,
for the success rows, answers), sent over HTTPS with mutual TLS, and an answer valid against its
official ret* schema."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator

import pytest
from lxml import etree

from nfe.local.sefaz import schemas
from nfe.local.sefaz.rules import RULES, Rule
from nfe.local.sefaz.signature import DS
from tests.helpers import sefaz_env
from tests.helpers import sefaz_nfe as h
from tests.helpers.sefaz_env import Env

HOUR = datetime.timedelta(hours=1)
Scenario = Callable[[Env], etree._Element]
SCENARIOS: dict[tuple[str, str], Scenario] = {}
ANSWER_SCHEMA = {
    "retEnviNFe": "retEnviNFe",
    "retConsSitNFe": "retConsSitNFe",
    "retConsStatServ": "retConsStatServ",
    "retEnvEvento": "retEnvEvento",
    "retInutNFe": "retInutNFe",
}


def scenario(service: str, rule: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        assert (service, rule) not in SCENARIOS
        SCENARIOS[service, rule] = function
        return function

    return register


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with sefaz_env.running_emulator() as emulator:
        yield Env(emulator)


@pytest.fixture(autouse=True)
def fresh(env: Env) -> None:
    env.emulator.reset()


def _retarget(element: etree._Element, uri: str) -> etree._Element:
    reference = element.find(f".//{{{DS}}}Reference")
    assert reference is not None
    reference.set("URI", uri)
    return element


def _edit(path: str, value: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        found = root.find(path.replace("n:", f"{{{h.NFE}}}"))
        assert found is not None, path
        found.text = value

    return edit


def _signed_evento(envelope: etree._Element) -> etree._Element:
    evento = envelope.find(h.q("evento"))
    assert evento is not None
    return evento


# ---- general -----------------------------------------------------------------------------------------


@scenario("*", "paralisado-108")
def _down_108(env: Env) -> etree._Element:
    env.emulator.down("108")
    return env.client.call("NFeStatusServico4", h.cons_stat())


@scenario("*", "paralisado-109")
def _down_109(env: Env) -> etree._Element:
    env.emulator.down("109")
    return env.client.call("NFeStatusServico4", h.cons_stat())


@scenario("*", "A02-10")
def _malformed(env: Env) -> etree._Element:
    response = env.client.raw("NFeStatusServico4", b"<soap:Envelope xmlns:soap='x'><unclosed>")
    assert response.status_code == 200
    envelope = etree.fromstring(response.content)
    return envelope[0][0][0]


# ---- autorização -------------------------------------------------------------------------------------


@scenario("autorizacao", "A04-10")
def _schema(env: Env) -> etree._Element:
    def drop_nat_op(root: etree._Element) -> None:
        nat_op = root.find(f"{h.q('infNFe')}/{h.q('ide')}/{h.q('natOp')}")
        assert nat_op is not None
        nat_op.getparent().remove(nat_op)  # type: ignore[union-attr]

    return env.send(env.nota(edit=drop_nat_op).signed(env.emitente))


@scenario("autorizacao", "GAP03a-3")
def _async_one(env: Env) -> etree._Element:
    return env.send(env.nota().signed(env.emitente), ind_sinc="0")


@scenario("autorizacao", "GAP03a-1")
def _sync_many(env: Env) -> etree._Element:
    return env.send(env.nota().signed(env.emitente), env.nota().signed(env.emitente), ind_sinc="1")


@scenario("autorizacao", "assincrono")
def _async_many(env: Env) -> etree._Element:
    return env.send(env.nota().signed(env.emitente), env.nota().signed(env.emitente), ind_sinc="0")


@scenario("autorizacao", "A06-10")
def _signature_profile(env: Env) -> etree._Element:
    signed = env.nota().signed(env.emitente)
    return env.send(_retarget(signed, "#NFe" + "3" * 44))


@scenario("autorizacao", "A06-20")
def _signature_value(env: Env) -> etree._Element:
    signed = env.nota().signed(env.emitente)
    _edit("n:infNFe/n:total/n:ICMSTot/n:vNF", "100.01")(signed)
    return env.send(signed)


@scenario("autorizacao", "A05-20")
def _certificate_chain(env: Env) -> etree._Element:
    return env.send(env.nota().signed(env.stranger))


@scenario("autorizacao", "A05-30")
def _certificate_cnpj(env: Env) -> etree._Element:
    return env.send(env.nota().signed(env.other))


@scenario("autorizacao", "A03-10")
def _chave_fields(env: Env) -> etree._Element:
    other = env.nota()
    return env.send(env.nota(chave_id=other.chave).signed(env.emitente))


@scenario("autorizacao", "B02-10")
def _cuf(env: Env) -> etree._Element:
    return env.send(env.nota(cuf="41").signed(env.emitente))


@scenario("autorizacao", "B03-10")
def _cnf(env: Env) -> etree._Element:
    return env.send(env.nota(cnf="12345678").signed(env.emitente))


@scenario("autorizacao", "B09-10")
def _future(env: Env) -> etree._Element:
    return env.send(env.nota(when=env.now() + HOUR).signed(env.emitente))


@scenario("autorizacao", "B23-10")
def _dv(env: Env) -> etree._Element:
    nota = env.nota()
    wrong = (int(nota.chave[-1]) + 1) % 10
    return env.send(env.nota(nnf=int(nota.chave[25:34]), cnf=nota.chave[35:43], cdv=wrong).signed(env.emitente))


@scenario("autorizacao", "B24-10")
def _tp_amb(env: Env) -> etree._Element:
    return env.send(env.nota(tp_amb="1").signed(env.emitente))


@scenario("autorizacao", "C02-10")
def _emit_cnpj(env: Env) -> etree._Element:
    return env.send(env.nota(cnpj="11222333000182").signed(env.emitente))


@scenario("autorizacao", "E02-10")
def _dest_cnpj(env: Env) -> etree._Element:
    return env.send(env.nota(dest_cnpj="11444777000162").signed(env.emitente))


@scenario("autorizacao", "E03-10")
def _dest_cpf(env: Env) -> etree._Element:
    return env.send(env.nota(dest_cpf="52998224726").signed(env.emitente))


@scenario("autorizacao", "E04-20")
def _homologacao(env: Env) -> etree._Element:
    return env.send(env.nota(dest_name="CLIENTE DE VERDADE LTDA").signed(env.emitente))


@scenario("autorizacao", "W16-10")
def _vprod(env: Env) -> etree._Element:
    return env.send(env.nota(edit=_edit("n:infNFe/n:det/n:prod/n:vProd", "90.00")).signed(env.emitente))


@scenario("autorizacao", "W28-10")
def _vnf(env: Env) -> etree._Element:
    return env.send(env.nota(edit=_edit("n:infNFe/n:total/n:ICMSTot/n:vNF", "90.00")).signed(env.emitente))


@scenario("autorizacao", "2B08-05")
def _inutilizado(env: Env) -> etree._Element:
    nnf = env.nnf()
    assert h.cstat(env.inutilizar(nnf, nnf)) == "102"
    return env.send(env.nota(nnf=nnf).signed(env.emitente))


@scenario("autorizacao", "2B08-10")
def _other_chave(env: Env) -> etree._Element:
    nota, _, _ = env.authorize()
    return env.send(env.nota(nnf=int(nota.chave[25:34])).signed(env.emitente))


@scenario("autorizacao", "2B08-20")
def _same_chave(env: Env) -> etree._Element:
    _, _, signed = env.authorize()
    return env.send(signed)


@scenario("autorizacao", "2B08-30")
def _cancelled(env: Env) -> etree._Element:
    nota, nprot, signed = env.authorize()
    assert h.cstat(env.cancel(nota.chave, nprot)) == "135"
    return env.send(signed)


@scenario("autorizacao", "2B08-40")
def _denied(env: Env) -> etree._Element:
    signed = env.nota().signed(env.emitente)
    env.emulator.deny_emitente(env.emitente.cnpj)
    assert h.cstat(env.send(signed)) == "301"
    env.emulator.reset_switches()
    return env.send(signed)


@scenario("autorizacao", "rejeicao-forcada")
def _forced(env: Env) -> etree._Element:
    env.emulator.force_rejection(count=1)
    return env.send(env.nota().signed(env.emitente))


@scenario("autorizacao", "denegacao-emitente")
def _deny_emitente(env: Env) -> etree._Element:
    env.emulator.deny_emitente(env.emitente.cnpj)
    return env.send(env.nota().signed(env.emitente))


@scenario("autorizacao", "denegacao-destinatario")
def _deny_destinatario(env: Env) -> etree._Element:
    env.emulator.deny_destinatario("52998224725")
    return env.send(env.nota().signed(env.emitente))


@scenario("autorizacao", "B09-20")
def _late(env: Env) -> etree._Element:
    return env.send(env.nota(when=env.now() - datetime.timedelta(days=8)).signed(env.emitente))


@scenario("autorizacao", "autorizada")
def _authorized(env: Env) -> etree._Element:
    return env.send(env.nota().signed(env.emitente))


# ---- consulta ----------------------------------------------------------------------------------------


@scenario("consulta", "consulta-schema")
def _consulta_schema(env: Env) -> etree._Element:
    return env.consulta("123")


@scenario("consulta", "consulta-ambiente")
def _consulta_ambiente(env: Env) -> etree._Element:
    return env.client.call("NFeConsultaProtocolo4", h.cons_sit(env.nota().chave, tp_amb="1"))


@scenario("consulta", "consulta-dv")
def _consulta_dv(env: Env) -> etree._Element:
    chave = env.nota().chave
    return env.consulta(chave[:43] + str((int(chave[43]) + 1) % 10))


@scenario("consulta", "consulta-uf")
def _consulta_uf(env: Env) -> etree._Element:
    return env.consulta(env.nota(cuf="41").chave)


@scenario("consulta", "consulta-inexistente")
def _consulta_unknown(env: Env) -> etree._Element:
    return env.consulta(env.nota().chave)


@scenario("consulta", "consulta-cancelada")
def _consulta_cancelled(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    assert h.cstat(env.cancel(nota.chave, nprot)) == "135"
    return env.consulta(nota.chave)


@scenario("consulta", "consulta-denegada-emitente")
def _consulta_denied_emitente(env: Env) -> etree._Element:
    nota = env.nota()
    env.emulator.deny_emitente(env.emitente.cnpj)
    env.send(nota.signed(env.emitente))
    return env.consulta(nota.chave)


@scenario("consulta", "consulta-denegada-destinatario")
def _consulta_denied_destinatario(env: Env) -> etree._Element:
    nota = env.nota()
    env.emulator.deny_destinatario("52998224725")
    env.send(nota.signed(env.emitente))
    return env.consulta(nota.chave)


@scenario("consulta", "consulta-fora-de-prazo")
def _consulta_late(env: Env) -> etree._Element:
    nota = env.nota(when=env.now() - datetime.timedelta(days=8))
    env.send(nota.signed(env.emitente))
    return env.consulta(nota.chave)


@scenario("consulta", "consulta-autorizada")
def _consulta_authorized(env: Env) -> etree._Element:
    nota, _, _ = env.authorize()
    return env.consulta(nota.chave)


# ---- status ------------------------------------------------------------------------------------------


@scenario("status", "status-schema")
def _status_schema(env: Env) -> etree._Element:
    message = h.cons_stat()
    message[2].text = "CONSULTAR"
    return env.client.call("NFeStatusServico4", message)


@scenario("status", "status-ambiente")
def _status_ambiente(env: Env) -> etree._Element:
    return env.client.call("NFeStatusServico4", h.cons_stat(tp_amb="1"))


@scenario("status", "status-uf")
def _status_uf(env: Env) -> etree._Element:
    return env.client.call("NFeStatusServico4", h.cons_stat(cuf="41"))


@scenario("status", "em-operacao")
def _status_ok(env: Env) -> etree._Element:
    return env.client.call("NFeStatusServico4", h.cons_stat())


# ---- evento 110111 -----------------------------------------------------------------------------------


def _evento_call(env: Env, envelope: etree._Element) -> etree._Element:
    return env.client.call("NFeRecepcaoEvento4", envelope)


@scenario("evento", "P-schema")
def _evento_schema(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, xjust="curta demais")


@scenario("evento", "P05-10")
def _evento_ambiente(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, tp_amb="1")


@scenario("evento", "P04-10")
def _evento_orgao(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, corgao="41")


@scenario("evento", "P-298")
def _evento_profile(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    envelope = h.cancelamento(env.emitente, chave=nota.chave, nprot=nprot, when=env.now())
    _retarget(_signed_evento(envelope), "#ID" + "1" * 52)
    return _evento_call(env, envelope)


@scenario("evento", "P-297")
def _evento_value(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    envelope = h.cancelamento(env.emitente, chave=nota.chave, nprot=nprot, when=env.now())
    _edit("n:evento/n:infEvento/n:detEvento/n:xJust", "Justificativa alterada depois")(envelope)
    return _evento_call(env, envelope)


@scenario("evento", "P-293")
def _evento_chain(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, emitente=env.stranger)


@scenario("evento", "P-213")
def _evento_certificate(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, emitente=env.other, cnpj=env.emitente.cnpj)


@scenario("evento", "P02-10")
def _evento_id(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, event_id=f"ID110111{nota.chave}02")


@scenario("evento", "P08-10")
def _evento_dv(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    chave = nota.chave[:43] + str((int(nota.chave[43]) + 1) % 10)
    return env.cancel(chave, nprot)


@scenario("evento", "P15-10")
def _evento_seq(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, seq=2)


@scenario("evento", "2P12-10")
def _evento_unknown(env: Env) -> etree._Element:
    return env.cancel(env.nota().chave, "135260000000001")


@scenario("evento", "P12-44")
def _evento_autor(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, emitente=env.other)


@scenario("evento", "3P15-10")
def _evento_duplicate(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    assert h.cstat(env.cancel(nota.chave, nprot)) == "135"
    return env.cancel(nota.chave, nprot)


@scenario("evento", "2P12-22")
def _evento_denied(env: Env) -> etree._Element:
    nota = env.nota()
    env.emulator.deny_emitente(env.emitente.cnpj)
    answer = env.send(nota.signed(env.emitente))
    env.emulator.reset_switches()
    return env.cancel(nota.chave, h.text(answer, "n:protNFe/n:infProt/n:nProt"))


@scenario("evento", "2P23-10")
def _evento_nprot(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, str(int(nprot) + 1))


@scenario("evento", "P13-10")
def _evento_future(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot, when=env.now() + HOUR)


@scenario("evento", "2P13-10")
def _evento_before_emission(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize(env.nota(when=env.now() - HOUR))
    return env.cancel(nota.chave, nprot, when=env.now() - 2 * HOUR)


@scenario("evento", "2P13-14")
def _evento_before_authorization(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize(env.nota(when=env.now() - 3 * HOUR))
    return env.cancel(nota.chave, nprot, when=env.now() - HOUR)


@scenario("evento", "2P12-14")
def _evento_too_late(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    env.emulator.set_clock(offset=datetime.timedelta(hours=24, minutes=1))
    return env.cancel(nota.chave, nprot)


@scenario("evento", "registrado")
def _evento_ok(env: Env) -> etree._Element:
    nota, nprot, _ = env.authorize()
    return env.cancel(nota.chave, nprot)


# ---- inutilização ------------------------------------------------------------------------------------


@scenario("inutilizacao", "inut-schema")
def _inut_schema(env: Env) -> etree._Element:
    return env.inutilizar(10, 20, xjust="curta demais")


@scenario("inutilizacao", "inut-ambiente")
def _inut_ambiente(env: Env) -> etree._Element:
    return env.inutilizar(10, 20, tp_amb="1")


@scenario("inutilizacao", "inut-uf")
def _inut_uf(env: Env) -> etree._Element:
    return env.inutilizar(10, 20, cuf="41")


def _inut_signed(env: Env, **options: object) -> etree._Element:
    return h.inutilizacao(env.emitente, ano=env.now().year % 100, serie=1, **options)  # type: ignore[arg-type]


@scenario("inutilizacao", "inut-298")
def _inut_profile(env: Env) -> etree._Element:
    inut = _retarget(_inut_signed(env, ini=10, fin=20), "#ID" + "1" * 41)
    return env.client.call("NFeInutilizacao4", inut)


@scenario("inutilizacao", "inut-297")
def _inut_value(env: Env) -> etree._Element:
    inut = _inut_signed(env, ini=10, fin=20)
    _edit("n:infInut/n:nNFFin", "21")(inut)
    return env.client.call("NFeInutilizacao4", inut)


@scenario("inutilizacao", "inut-293")
def _inut_chain(env: Env) -> etree._Element:
    return env.inutilizar(10, 20, emitente=env.stranger)


@scenario("inutilizacao", "inut-213")
def _inut_certificate(env: Env) -> etree._Element:
    return env.inutilizar(10, 20, emitente=env.other, cnpj=env.emitente.cnpj)


@scenario("inutilizacao", "inut-id")
def _inut_id(env: Env) -> etree._Element:
    ano = env.now().year % 100
    return env.inutilizar(10, 20, inut_id=f"ID35{ano:02d}{env.emitente.cnpj}55001{10:09d}{21:09d}")


@scenario("inutilizacao", "inut-ano-futuro")
def _inut_future(env: Env) -> etree._Element:
    return env.inutilizar(10, 20, ano=env.now().year % 100 + 1)


@scenario("inutilizacao", "inut-ano-antigo")
def _inut_old(env: Env) -> etree._Element:
    return env.inutilizar(10, 20, ano=5)


@scenario("inutilizacao", "inut-faixa")
def _inut_range(env: Env) -> etree._Element:
    return env.inutilizar(20, 10)


@scenario("inutilizacao", "inut-limite")
def _inut_limit(env: Env) -> etree._Element:
    return env.inutilizar(1, 10_001)


@scenario("inutilizacao", "inut-mesma-faixa")
def _inut_same(env: Env) -> etree._Element:
    assert h.cstat(env.inutilizar(10, 20)) == "102"
    return env.inutilizar(10, 20)


@scenario("inutilizacao", "inut-ja-inutilizada")
def _inut_overlap(env: Env) -> etree._Element:
    assert h.cstat(env.inutilizar(10, 20)) == "102"
    return env.inutilizar(15, 25)


@scenario("inutilizacao", "inut-numero-usado")
def _inut_used(env: Env) -> etree._Element:
    nota, _, _ = env.authorize()
    nnf = int(nota.chave[25:34])
    return env.inutilizar(nnf, nnf + 1)


@scenario("inutilizacao", "inutilizada")
def _inut_ok(env: Env) -> etree._Element:
    return env.inutilizar(10, 20)


# ---- the table ---------------------------------------------------------------------------------------


def test_every_row_has_its_scenario_and_ids_are_unique() -> None:
    keys = [(rule.service, rule.rule) for rule in RULES]
    assert len(keys) == len(set(keys))
    assert set(SCENARIOS) == set(keys)


def test_each_service_ends_with_a_success_row_that_always_answers() -> None:
    for service in ("autorizacao", "consulta", "status", "evento", "inutilizacao"):
        rows = [rule for rule in RULES if rule.service == service]
        assert rows[-1].kind == "sucesso", service
        assert rows[0].scope == "lote", service


@pytest.mark.parametrize("rule", RULES, ids=[f"{rule.service}:{rule.rule}:{rule.cstat}" for rule in RULES])
def test_rule(env: Env, rule: Rule) -> None:
    # Given a request only this row refuses (or, for a success row, answers)
    answer = SCENARIOS[rule.service, rule.rule](env)
    # Then the answer carries the row's cStat and xMotivo
    assert h.cstat(answer) == str(rule.cstat), etree.tostring(answer, encoding="unicode")
    motivos = [element.text or "" for element in answer.iter(h.q("xMotivo"))]
    assert any(motivo.startswith(rule.xmotivo) for motivo in motivos), motivos
    # And it is valid against its official schema
    name = ANSWER_SCHEMA[etree.QName(answer).localname]
    assert schemas.errors(name, answer) == []
