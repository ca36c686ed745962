"""The web console in a real browser (Debian's Chromium driven by Playwright) against `nfe local`.

One `nfe local` process serves the built console at `/` and the API at `/api/*`, with a second
local origin allowed for the cross-origin test; each test opens its own browser context (its own
session storage) and signs in through the form, as a user does. Every page visited is written as a
screenshot under build/console-screenshots/ (not committed; docs/console.png is one of them).

A nota goes to local mode's emulated SEFAZ and ends AUTORIZADA within about a second; a test that
needs SEFAZ to wait, reject, deny or be 25 hours ahead (to refuse a cancelamento with 501) sets the
emulator's switches (docs/sefaz-emulator.md) for its own nota and puts them back.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from nfe.local.cognito import DEMO_PASSWORD, DEMO_USERS
from nfe.local.console import DEFAULT_DIST
from nfe.pgserver import free_port
from tests.browser.pages import (
    SAGA_TIMEOUT_MS,
    Destinatario,
    EmitirNotaPage,
    NotaPage,
    NotasPage,
    ProdutosPage,
    SignInPage,
)
from tests.conftest import create_database
from tests.helpers.fiscal_pdf import pdf_text
from tests.test_local_mode import LocalProcess, start_local

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "console-screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# In the demo emitente's UF (SP), não contribuinte; the form's defaults fill the address.
DESTINATARIO = Destinatario("11.222.333/0001-81", "ACME Ltda")
# The same destinatário as the API takes it.
DESTINATARIO_API: dict[str, Any] = {
    "documento": DESTINATARIO.documento,
    "nome": DESTINATARIO.nome,
    "endereco": {
        "logradouro": DESTINATARIO.logradouro,
        "numero": DESTINATARIO.numero,
        "bairro": DESTINATARIO.bairro,
        "codigoMunicipio": DESTINATARIO.codigo_municipio,
        "municipio": DESTINATARIO.municipio,
        "uf": DESTINATARIO.uf,
        "cep": DESTINATARIO.cep,
    },
    "indicadorIe": 9,
}
# What a produto needs to be invoiced.
PRODUTO_FISCAL: dict[str, Any] = {"ncm": "94036000", "unidade": "UN", "origem": 0}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


# The emulator's switches as they are when nothing bends it (docs/sefaz-emulator.md).
SEFAZ_DEFAULTS: dict[str, Any] = {"delayMs": 0, "forcedRejection": None, "irregularDestinatarios": [], "clock": None}
# SEFAZ's xJust for the cancelamento: 15 to 255 characters.
JUSTIFICATIVA = "Pedido cancelado pelo cliente antes da entrega"


class Local:
    def __init__(self, process: LocalProcess, other_origin: str, state_file: Path) -> None:
        self.process = process
        self.url = process.url
        self.other_origin = other_origin
        # The emulated SEFAZ's URL, test CA and test A1, as `nfe local --state-file` wrote them.
        self.sefaz_info: dict[str, Any] = json.loads(state_file.read_text())["sefaz"]

    @contextmanager
    def sefaz(self, **switches: Any) -> Iterator[None]:
        """The emulated SEFAZ with these switches (its admin endpoint's JSON keys) while the block runs;
        back to the defaults after, so the next test's notas are authorized as usual."""
        self._switch(switches)
        try:
            yield
        finally:
            self._switch({key: SEFAZ_DEFAULTS[key] for key in switches})

    def _switch(self, switches: dict[str, Any]) -> None:
        # Mutual TLS on the admin endpoint too: the test A1 the emulator made is the client certificate.
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
        answer = session.post(
            f"{self.sefaz_info['url']}/_emulator/switches",
            json=switches,
            cert=(self.sefaz_info["clientCert"], self.sefaz_info["clientKey"]),
            verify=self.sefaz_info["caFile"],
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def produto(self, quantidade: int, fiscal: bool = True) -> dict[str, Any]:
        """`fiscal=False`: a produto as created before the NF-e, with no NCM, unidade or origem."""
        sku = f"PW-{uuid.uuid4().hex[:8]}"
        body = {"sku": sku, "nome": f"Produto {sku}", "quantidade": quantidade, **(PRODUTO_FISCAL if fiscal else {})}
        return dict(self.process.api_as("estoquista@example.com").expect(201, "POST", "/api/v1/produtos", body))

    def nota(self, nota_id: str) -> dict[str, Any]:
        return dict(self.process.api.expect(200, "GET", f"/api/v1/notas/{nota_id}"))

    def emit(self, destinatario: dict[str, Any], produto_id: str, quantidade: int, valor: str) -> dict[str, Any]:
        body = {
            "destinatario": destinatario,
            "items": [{"produtoId": produto_id, "quantidade": quantidade, "valorUnitario": valor}],
        }
        return dict(self.process.api_as("faturista@example.com").expect(201, "POST", "/api/v1/notas", body))

    def wait_nota(self, nota_id: str, status: str) -> dict[str, Any]:
        deadline = time.monotonic() + SAGA_TIMEOUT_MS / 1000
        while (nota := self.nota(nota_id))["status"] != status:
            assert time.monotonic() < deadline, f"nota {nota_id} is {nota['status']}, not {status}"
            time.sleep(0.2)
        return nota

    def stock(self, produto_id: str) -> int:
        return int(self.process.api.expect(200, "GET", f"/api/v1/produtos/{produto_id}")["quantidade"])

    def notas_of(self, produto_id: str) -> list[dict[str, Any]]:
        page = self.process.api.expect(200, "GET", "/api/v1/notas?limit=100")
        return [n for n in page["items"] if any(i["produtoId"] == produto_id for i in n["items"])]


@pytest.fixture(scope="module")
def local(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    assert (DEFAULT_DIST / "index.html").is_file(), f"the console is not built in {DEFAULT_DIST}: run `make build`"
    other = f"http://127.0.0.1:{free_port()}"
    state_file = tmp_path_factory.mktemp("console-local") / "state.json"
    process = start_local(
        create_database(pg_admin_url),
        "--outbox-interval",
        "1",
        "--cors-origin",
        other,
        "--state-file",
        str(state_file),
    )
    yield Local(process, other, state_file)
    assert process.stop() == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def signed_in(local: Local, browser: Browser) -> Iterator[Callable[[str], Page]]:
    contexts = []

    def open_as(email: str) -> Page:
        context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        SignInPage(page, SCREENSHOTS).open(local.url).sign_in(email, DEMO_PASSWORD)
        NotasPage(page, SCREENSHOTS).wait()
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda u: u.email.split("@")[0])
def test_each_demo_user_signs_in(signed_in: Callable[[str], Page], user: Any) -> None:
    page = signed_in(user.email)
    # The header names who is signed in and their groups
    expect(page.get_by_role("banner")).to_contain_text(user.email)
    for group in user.groups:
        expect(page.get_by_role("banner")).to_contain_text(str(group))
    NotasPage(page, SCREENSHOTS).screenshot(f"notas-{user.email.split('@')[0]}")


def test_a_wrong_password_is_refused_with_a_message(local: Local, browser: Browser) -> None:
    context = browser.new_context(locale="pt-BR")
    page = context.new_page()
    sign_in = SignInPage(page, SCREENSHOTS).open(local.url)
    sign_in.sign_in("faturista@example.com", "senha-errada")
    expect(sign_in.alert).to_have_text("E-mail ou senha incorretos.")
    assert page.url.endswith("/entrar")
    sign_in.screenshot("entrar-senha-errada")
    context.close()


def test_signing_in_and_moving_around_by_keyboard_alone(local: Local, browser: Browser) -> None:
    context = browser.new_context(locale="pt-BR")
    page = context.new_page()
    SignInPage(page, SCREENSHOTS).open(local.url)
    # Tab order: the skip link, then the form's fields and its button
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Pular para o conteúdo")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail")).to_be_focused()
    page.keyboard.type("estoquista@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    NotasPage(page, SCREENSHOTS).wait()
    # The main navigation is reachable and operable with the keyboard too
    produtos = page.get_by_role("navigation", name="Principal").get_by_role("link", name="Produtos")
    produtos.focus()
    page.keyboard.press("Enter")
    ProdutosPage(page, SCREENSHOTS).wait()
    expect(produtos).to_have_attribute("aria-current", "page")
    context.close()


def test_an_expired_session_goes_back_to_sign_in(local: Local, signed_in: Callable[[str], Page]) -> None:
    page = signed_in("auditor@example.com")
    # Given a session whose token the API's authorizer refuses (as an expired or revoked one)
    page.evaluate(
        """() => {
            const session = JSON.parse(sessionStorage.getItem('nfe.session'));
            sessionStorage.setItem('nfe.session', JSON.stringify({...session, idToken: 'eyJhbGciOiJSUzI1NiJ9.e30.x'}));
        }"""
    )
    # When a page calls the API, its 401 signs the user out and back to the sign-in page
    page.goto(f"{local.url}/produtos")
    page.wait_for_url("**/entrar?motivo=sessao")
    expect(page.get_by_role("status")).to_have_text("Sua sessão terminou. Entre de novo.")


def test_estoquista_creates_a_produto_and_registers_an_entrada(signed_in: Callable[[str], Page]) -> None:
    page = signed_in("estoquista@example.com")
    produtos = ProdutosPage(page, SCREENSHOTS)
    produtos.nav("Produtos")
    produtos.wait()
    # A 422 from the API lands next to its field
    produtos.create("sku inválido!", "Parafuso", 5)
    expect(page.locator("#sku-erro")).not_to_be_empty()
    expect(page.get_by_label("SKU")).to_have_attribute("aria-invalid", "true")
    sku = f"PAR-{uuid.uuid4().hex[:6]}"
    produtos.create(sku, "Parafuso 6mm", 5)
    expect(produtos.message).to_have_text(f"Produto {sku} criado com 5 unidades.")
    expect(produtos.row(sku)).to_contain_text("5")
    produtos.register_entrada(sku, 7)
    expect(produtos.message).to_contain_text("agora 12 disponíveis")
    expect(produtos.row(sku).get_by_role("cell").nth(2)).to_have_text("12")
    produtos.screenshot("produtos")


def prazo_local(page: Page, instante: str) -> str:
    """`instante` as the page writes a deadline: pt-BR, in the browser's own time zone."""
    zona = ZoneInfo(page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))
    return datetime.fromisoformat(instante).astimezone(zona).strftime("%d/%m/%Y às %H:%M")


def emit(page: Page, produto_id: str, quantidade: int) -> NotaPage:
    notas = NotasPage(page, SCREENSHOTS)
    notas.nav("Notas")
    notas.emitir.click()
    form = EmitirNotaPage(page, SCREENSHOTS).wait()
    form.fill(DESTINATARIO, produto_id, quantidade, "10.50")
    form.submit.click()
    page.wait_for_url("**/notas/*-*")
    return NotaPage(page, SCREENSHOTS)


def test_faturista_sees_autorizada_erro_estoque_and_cancelada(local: Local, signed_in: Callable[[str], Page]) -> None:
    produto = local.produto(10)
    page = signed_in("faturista@example.com")
    # A nota within stock is reserved, sent to SEFAZ and authorized, live on its page
    first = emit(page, produto["id"], 4).wait_status("AUTORIZADA")
    nota = local.nota(first.nota_id)
    expect(first.timeline.get_by_role("listitem")).to_have_text(
        [
            re.compile(r"^Emitida \(PENDING\)"),
            re.compile(r"^CONFIRMADA: estoque reservado"),
            re.compile(rf"^NF-e nº {nota['numero']}, série {nota['serie']}, enviada à SEFAZ"),
            re.compile(rf"^AUTORIZADA pela SEFAZ.*Protocolo de autorização {nota['protocolo']}"),
        ]
    )
    # The API keeps the CNPJ's digits alone; the page writes it formatted again
    expect(first.field("Destinatário")).to_have_text("ACME Ltda (11.222.333/0001-81)")
    first.screenshot("nota-autorizada")
    first_id = first.nota_id
    assert local.stock(produto["id"]) == 6
    # One over the stock left ends in ERRO_ESTOQUE, with the reason
    second = emit(page, produto["id"], 50).wait_status("ERRO_ESTOQUE")
    expect(second.timeline).to_contain_text("ESTOQUE_INSUFICIENTE")
    # A nota refused for lack of stock takes no número, never goes to SEFAZ, and has nothing to download
    expect(second.field("Número")).to_have_text("sem número")
    expect(second.timeline).not_to_contain_text("SEFAZ")
    expect(second.downloads).to_have_count(0)
    expect(second.cancelar).to_have_count(0)
    second.screenshot("nota-erro-estoque")
    # Cancelling the first asks SEFAZ to register the cancelamento (evento 110111)
    page.goto(f"{local.url}/notas/{first_id}")
    first.wait_status("AUTORIZADA")
    nota = local.nota(first_id)
    chave, protocolo = nota["chave"], nota["protocolo"]
    # Beside the button, until when SEFAZ takes it (24 hours after the authorization)
    expect(first.cancelamento.locator("time")).to_have_attribute("datetime", nota["cancelavelAte"])
    confirmacao = first.ask_to_cancel()
    # The dialog says what happens and until when, and asks for the justificativa, which has the focus
    expect(confirmacao).to_contain_text("A SEFAZ registra o cancelamento (evento 110111)")
    expect(confirmacao).to_contain_text("a nota fica CANCELADA e o estoque reservado volta a ficar disponível")
    expect(confirmacao).not_to_contain_text("ainda não é enviado")
    prazo = confirmacao.locator("time")
    expect(prazo).to_have_attribute("datetime", nota["cancelavelAte"])
    expect(prazo).to_have_text(prazo_local(page, nota["cancelavelAte"]))
    expect(first.justificativa).to_be_focused()
    first.justificativa.fill(JUSTIFICATIVA)
    first.screenshot("nota-cancelar")
    # Given a SEFAZ slow enough to see the request in flight
    with local.sefaz(delayMs=3000):
        first.confirmar_cancelamento.click()
        # The nota stays AUTORIZADA, no second request can be made, and the timeline has the request
        expect(first.cancelamento).to_contain_text("foi enviado à SEFAZ e aguarda o registro")
        expect(first.field("Status")).to_have_text("AUTORIZADA (Autorizada)")
        expect(first.cancelar).to_have_count(0)
        expect(first.timeline).to_contain_text(f"Justificativa: “{JUSTIFICATIVA}”")
        first.screenshot("nota-cancelamento-pedido")
    # Then SEFAZ registers it: CANCELADA with the event's protocol, and then the stock comes back
    first.wait_status("CANCELADA")
    expect(first.timeline).to_contain_text("Estoque devolvido: reservas liberadas", timeout=SAGA_TIMEOUT_MS)
    cancelada = local.nota(first_id)
    evento = cancelada["cancelamentoProtocolo"]
    assert re.fullmatch(r"\d{15}", evento) and evento != protocolo
    expect(first.field("Protocolo do cancelamento")).to_have_text(evento)
    expect(first.field("Justificativa do cancelamento")).to_have_text(JUSTIFICATIVA)
    expect(first.field("Cancelada em").locator("time")).to_have_attribute("datetime", cancelada["canceladaEm"])
    expect(first.timeline.get_by_role("listitem")).to_have_text(
        [
            re.compile(r"^Emitida \(PENDING\)"),
            re.compile(r"^CONFIRMADA: estoque reservado"),
            re.compile(r"enviada à SEFAZ"),
            re.compile(rf"^AUTORIZADA pela SEFAZ.*{protocolo}"),
            re.compile(rf"^Cancelamento pedido à SEFAZ \(evento 110111\).*“{re.escape(JUSTIFICATIVA)}”"),
            re.compile(rf"^CANCELADA: cancelamento registrado pela SEFAZ.*Protocolo do cancelamento {evento}"),
            re.compile(r"^Estoque devolvido: reservas liberadas"),
        ]
    )
    expect(first.cancelar).to_have_count(0)
    expect(first.cancelamento).to_have_count(0)
    assert local.stock(produto["id"]) == 10
    # The documents: the nfeProc and the DANFE (now marked CANCELADA), and the event that voids them
    expect(first.downloads).to_have_text(["Baixar XML autorizado", "Baixar DANFE", "Baixar evento de cancelamento"])
    expect(page.get_by_role("region", name="Documentos fiscais")).to_contain_text("junto com o evento de cancelamento")
    with page.expect_download() as download, page.expect_response("**/cancelamento/xml") as response:
        first.baixar_evento_cancelamento.click()
    token = page.evaluate("JSON.parse(sessionStorage.getItem('nfe.session')).idToken")
    assert response.value.request.headers.get("authorization") == token
    arquivo = f"ID110111{chave}01-procEventoNFe.xml"
    # The name the console gives the file is the one the API gives it
    assert download.value.suggested_filename == arquivo
    assert arquivo in (response.value.headers.get("content-disposition") or "")
    xml = Path(download.value.path()).read_text(encoding="utf-8")
    assert "<procEventoNFe" in xml and "<tpEvento>110111</tpEvento>" in xml
    assert f"<xJust>{JUSTIFICATIVA}</xJust>" in xml and f"<nProt>{evento}</nProt>" in xml
    with page.expect_download() as download:
        first.baixar_danfe.click()
    assert "CANCELADA" in pdf_text(Path(download.value.path()).read_bytes())
    first.screenshot("nota-cancelada")
    notas = NotasPage(page, SCREENSHOTS)
    notas.nav("Notas")
    notas.wait().filter("Cancelada")
    expect(notas.rows.filter(has_text="Cancelada").first).to_be_visible()
    notas.screenshot("notas-canceladas")


def test_auditor_sees_every_page_and_no_write_action(local: Local, signed_in: Callable[[str], Page]) -> None:
    produto = local.produto(3)
    nota = local.emit(DESTINATARIO_API, produto["id"], 1, "1.00")
    page = signed_in("auditor@example.com")
    notas = NotasPage(page, SCREENSHOTS).wait()
    expect(notas.emitir).to_have_count(0)
    notas.nav("Produtos")
    produtos = ProdutosPage(page, SCREENSHOTS).wait()
    expect(produtos.row(produto["sku"])).to_be_visible()
    expect(page.get_by_role("button", name="Criar produto")).to_have_count(0)
    expect(page.get_by_role("button", name="Registrar entrada")).to_have_count(0)
    produtos.screenshot("produtos-auditor")
    page.goto(f"{local.url}/notas/{nota['id']}")
    detalhe = NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    expect(detalhe.cancelar).to_have_count(0)
    # Reading is what an auditor does: the documents download for every group that may read
    with page.expect_download() as download:
        detalhe.baixar_xml_autorizado.click()
    assert download.value.suggested_filename == f"NFe{local.nota(nota['id'])['chave']}-procNFe.xml"
    detalhe.screenshot("nota-auditor")
    # Typing the emit page's address still shows a page that cannot emit: the API answers 403
    page.goto(f"{local.url}/notas/nova")
    form = EmitirNotaPage(page, SCREENSHOTS).wait()
    form.fill(DESTINATARIO, produto["id"], 1, "1.00")
    form.submit.click()
    expect(page.get_by_role("alert")).to_have_text("Seu grupo não tem permissão para fazer isso.")


def test_a_double_click_on_emitir_emits_one_nota(local: Local, signed_in: Callable[[str], Page]) -> None:
    produto = local.produto(10)
    page = signed_in("faturista@example.com")
    notas = NotasPage(page, SCREENSHOTS)
    notas.emitir.click()
    form = EmitirNotaPage(page, SCREENSHOTS).wait()
    form.fill(DESTINATARIO, produto["id"], 1, "2.00")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.headers.get("idempotency-key", "")) if r.method == "POST" else None)
    form.submit.dblclick()
    NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    time.sleep(0.5)  # a second request, had one left, would have landed by now
    assert len(local.notas_of(produto["id"])) == 1
    # Whatever reached the network carried one key
    assert len(set(sent)) == 1 and sent[0]


def chave_em_grupos(chave: str) -> str:
    return " ".join(chave[i : i + 4] for i in range(0, len(chave), 4))


def test_a_nota_shows_numero_serie_chave_and_brazilian_formats(local: Local, signed_in: Callable[[str], Page]) -> None:
    # Given two produtos, one with thousands in stock
    muitos, um = local.produto(5000), local.produto(10)
    page = signed_in("faturista@example.com")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    notas = NotasPage(page, SCREENSHOTS)
    notas.emitir.click()
    form = EmitirNotaPage(page, SCREENSHOTS).wait()
    # Quantities read as pt-BR writes them, in the produto picker too
    expect(form.field("Produto do item 1").locator("option", has_text=muitos["sku"])).to_contain_text(
        "(5.000 disponíveis)"
    )
    # When a CPF destinatário with a full address is typed bare, and a price the way pt-BR writes it
    cpf = Destinatario(
        "52998224725",
        "Fulano de Tal",
        logradouro="Avenida Paulista",
        numero="1000",
        complemento="Conjunto 12",
        bairro="Bela Vista",
        cep="01310100",
        email="fulano@example.com",
    )
    form.fill_destinatario(cpf)
    form.fill_item(1, um["id"], 1, "1.234,50")
    form.fill_item(2, muitos["id"], 1500, "0,01")
    form.submit.click()
    page.wait_for_url("**/notas/*-*")
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    nota = local.nota(nota_page.nota_id)
    assert isinstance(nota["numero"], int) and len(nota["chave"]) == 44
    # Then the nota reads by número and série, not by its id, and the chave in groups of four
    expect(nota_page.field("Número")).to_have_text(str(nota["numero"]))
    expect(nota_page.field("Série")).to_have_text(str(nota["serie"]))
    expect(nota_page.field("Chave de acesso")).to_contain_text(chave_em_grupos(nota["chave"]))
    expect(page.get_by_role("main")).not_to_contain_text(nota["id"])
    # CPF and CEP formatted, money and quantities in pt-BR
    expect(nota_page.field("Destinatário")).to_have_text("Fulano de Tal (529.982.247-25)")
    expect(nota_page.field("Endereço")).to_contain_text("Avenida Paulista, 1000, Conjunto 12, Bela Vista")
    expect(nota_page.field("Endereço")).to_contain_text("CEP 01310-100")
    expect(nota_page.field("Valor total")).to_have_text("R$ 1.249,50")
    expect(nota_page.field("Natureza da operação")).to_have_text("Venda de mercadoria")
    expect(nota_page.field("Ambiente")).to_contain_text("Homologação")
    # Each item with what the NF-e carries: NCM, CFOP (5102 inside the emitente's UF), unidade
    itens = nota_page.items
    expect(itens.filter(has_text=um["nome"])).to_contain_text("R$ 1.234,50")
    linha = itens.filter(has_text="R$ 0,01")
    expect(linha).to_contain_text("1.500")
    expect(linha).to_contain_text("94036000")
    expect(linha).to_contain_text("5102")
    expect(linha.get_by_role("cell", name="UN", exact=True)).to_be_visible()
    # The copy button puts the bare chave on the clipboard, and says so
    nota_page.copiar_chave.click()
    expect(page.get_by_text("Chave copiada.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == nota["chave"]
    nota_page.screenshot("nota-nfe")
    # The list shows número and série, formatted values, and filters by série and número range
    notas.nav("Notas")
    notas.wait()
    notas.filter_serie(nota["serie"])
    notas.filter_numeros(nota["numero"], nota["numero"])
    expect(notas.rows).to_have_count(2)  # the header and this nota
    linha = notas.rows.nth(1)
    expect(linha).to_contain_text("529.982.247-25")
    expect(linha).to_contain_text("R$ 1.249,50")
    expect(linha).to_contain_text("Autorizada")
    notas.screenshot("notas-filtro-numero")
    notas.filter_numeros(nota["numero"] + 1, nota["numero"] + 1)
    expect(notas.link(nota["numero"])).to_have_count(0)
    notas.filter_numeros(nota["numero"], nota["numero"])
    notas.link(nota["numero"]).click()
    NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    assert page.url.endswith(f"/notas/{nota['id']}")


def test_an_authorized_nota_shows_its_protocol_and_downloads_the_nfeproc_and_danfe_with_the_users_token(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    # Given a nota for an alphanumeric CNPJ (the 2026 schemas' form), authorized by SEFAZ
    produto = local.produto(5)
    alfanumerico = {**DESTINATARIO_API, "documento": "12.ABC.345/01DE-35", "nome": "Nova Empresa SA"}
    emitida = local.emit(alfanumerico, produto["id"], 2, "3.10")
    page = signed_in("faturista@example.com")
    page.goto(f"{local.url}/notas/{emitida['id']}")
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    nota = local.nota(emitida["id"])
    chave, protocolo = nota["chave"], nota["protocolo"]
    assert re.fullmatch(r"\d{15}", protocolo)
    expect(nota_page.field("Destinatário")).to_have_text("Nova Empresa SA (12.ABC.345/01DE-35)")
    # The protocol is in the nota's record beside its status, with when SEFAZ authorized it
    expect(nota_page.field("Status")).to_have_text("AUTORIZADA (Autorizada)")
    expect(nota_page.field("Protocolo de autorização")).to_have_text(protocolo)
    expect(nota_page.field("Autorizada em").locator("time")).to_have_attribute("datetime", nota["autorizadaEm"])
    # Nothing is a preview any more, and the nota can be cancelled
    expect(nota_page.baixar_danfe_previa).to_have_count(0)
    expect(page.get_by_role("main")).not_to_contain_text("prévia")
    expect(nota_page.cancelar).to_be_visible()
    # When the user downloads the authorized XML: through the API with the token (a link would carry none)
    with page.expect_download() as download, page.expect_request("**/xml") as request:
        nota_page.baixar_xml_autorizado.click()
    token = page.evaluate("JSON.parse(sessionStorage.getItem('nfe.session')).idToken")
    assert request.value.headers.get("authorization") == token
    # Then it is the nfeProc: the signed NF-e with SEFAZ's protocol
    assert download.value.suggested_filename == f"NFe{chave}-procNFe.xml"
    xml = Path(download.value.path()).read_text(encoding="utf-8")
    assert "<nfeProc" in xml and f'Id="NFe{chave}"' in xml and "<Signature" in xml
    assert f"<nProt>{protocolo}</nProt>" in xml
    # And the DANFE, a PDF, asked for first in Accept: API Gateway sends binary bodies as bytes only then
    with page.expect_download() as download, page.expect_request("**/danfe") as request:
        nota_page.baixar_danfe.click()
    assert request.value.headers.get("accept", "").startswith("application/pdf")
    assert download.value.suggested_filename == f"NFe{chave}-danfe.pdf"
    pdf = Path(download.value.path()).read_bytes()
    # The authorized DANFE, carrying the protocol
    assert pdf.startswith(b"%PDF") and protocolo in pdf_text(pdf).replace(" ", "")
    expect(page.get_by_text(f"NFe{chave}-danfe.pdf baixado.")).to_be_visible()
    nota_page.screenshot("nota-documentos")
    assert unnamed_controls(page) == []
    # The list writes the alphanumeric CNPJ as the nota page does
    notas = NotasPage(page, SCREENSHOTS)
    notas.nav("Notas")
    notas.wait()
    expect(notas.rows.filter(has_text="Nova Empresa SA").first).to_contain_text("12.ABC.345/01DE-35")


def test_a_failed_download_shows_the_apis_message(local: Local, signed_in: Callable[[str], Page]) -> None:
    produto = local.produto(5)
    emitida = local.emit(DESTINATARIO_API, produto["id"], 1, "1.00")
    page = signed_in("faturista@example.com")
    page.goto(f"{local.url}/notas/{emitida['id']}")
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    # Given a DANFE the API does not have (the 404 it answers before the document exists)
    page.route(
        "**/danfe",
        lambda route: route.fulfill(
            status=404, content_type="application/json", body='{"message": "O DANFE desta nota ainda não existe."}'
        ),
    )
    # The error body, read from the blob the download asked for, is shown as any other error
    nota_page.baixar_danfe.click()
    expect(page.get_by_role("alert")).to_have_text("O DANFE desta nota ainda não existe.")


def test_a_nota_with_sefaz_waits_with_a_preview_and_no_cancel_then_is_authorized(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    produto = local.produto(5)
    page = signed_in("faturista@example.com")
    # Given a SEFAZ slow to answer (still well within the participant's read timeout)
    with local.sefaz(delayMs=6000):
        nota_page = emit(page, produto["id"], 1).wait_status("CONFIRMADA")
        # While it waits: the status says so, the timeline shows the NF-e sent, the DANFE is a preview
        expect(nota_page.field("Status")).to_have_text("CONFIRMADA (Aguardando SEFAZ)")
        sefaz = page.get_by_role("region", name="Autorização da SEFAZ")
        expect(sefaz).to_contain_text("foi enviada à SEFAZ e aguarda a autorização")
        expect(nota_page.timeline).to_contain_text("enviada à SEFAZ")
        expect(nota_page.timeline).to_contain_text("Aguardando a resposta da SEFAZ.")
        expect(nota_page.baixar_danfe_previa).to_be_visible()
        expect(nota_page.baixar_xml).to_be_visible()
        expect(nota_page.baixar_danfe).to_have_count(0)
        # The API refuses to cancel a nota with SEFAZ: no button, and the page says when it can be
        expect(nota_page.cancelar).to_have_count(0)
        expect(page.get_by_text("O cancelamento fica disponível quando a SEFAZ autorizar a nota.")).to_be_visible()
        nota_page.screenshot("nota-aguardando-sefaz")
        assert unnamed_controls(page) == []
    # Then SEFAZ answers and the open page follows it to AUTORIZADA on its own
    nota_page.wait_status("AUTORIZADA")
    expect(sefaz).to_have_count(0)
    expect(nota_page.timeline).not_to_contain_text("Aguardando")
    expect(nota_page.cancelar).to_be_visible()


def test_a_nota_sefaz_rejects_shows_cstat_and_motivo_and_its_stock_released(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    produto = local.produto(10)
    page = signed_in("faturista@example.com")
    motivo = "Rejeição: Informado NCM inexistente"
    # Given SEFAZ will reject the next NF-e (a rule the emulator does not check, forced)
    with local.sefaz(forcedRejection={"cStat": 778, "xMotivo": motivo, "count": 1}):
        nota_page = emit(page, produto["id"], 3).wait_status("REJEITADA")
    nota = local.nota(nota_page.nota_id)
    # Then the page shows SEFAZ's code and reason, and what becomes of the número
    expect(nota_page.field("Status")).to_have_text("REJEITADA (Rejeitada pela SEFAZ)")
    resposta = page.get_by_role("region", name="Resposta da SEFAZ")
    expect(nota_page.field("Código (cStat)")).to_have_text("778")
    expect(nota_page.field("Motivo")).to_have_text(motivo)
    expect(resposta).to_contain_text(f"o número {nota['numero']} aguarda inutilização")
    # The timeline: sent, rejected with cStat and motivo, then the compensation gave the stock back
    expect(nota_page.timeline.get_by_role("listitem")).to_have_text(
        [
            re.compile(r"^Emitida \(PENDING\)"),
            re.compile(r"^CONFIRMADA: estoque reservado"),
            re.compile(rf"^NF-e nº {nota['numero']}, série {nota['serie']}, enviada à SEFAZ"),
            re.compile(rf"^REJEITADA pela SEFAZ.*cStat 778: {re.escape(motivo)}"),
            re.compile(r"^Estoque liberado: reservas devolvidas"),
        ]
    )
    expect(nota_page.field("Estoque")).to_have_text("Reservas devolvidas ao estoque.")
    assert local.stock(produto["id"]) == 10
    # No protocol, no DANFE, nothing to cancel: only the XML that was sent, to see what was wrong
    expect(nota_page.field("Protocolo de autorização")).to_have_count(0)
    expect(nota_page.downloads).to_have_text(["Baixar XML"])
    expect(nota_page.cancelar).to_have_count(0)
    nota_page.screenshot("nota-rejeitada")
    assert unnamed_controls(page) == []
    # The list shows it with its label, and filters by it
    notas = NotasPage(page, SCREENSHOTS)
    notas.nav("Notas")
    notas.wait().filter("Rejeitada pela SEFAZ")
    expect(notas.link(nota["numero"])).to_be_visible()
    expect(notas.rows.filter(has_text="Autorizada")).to_have_count(0)
    notas.screenshot("notas-rejeitadas")


def test_a_denied_nota_shows_the_denials_protocol_and_that_its_numero_is_consumed(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    produto = local.produto(10)
    irregular = {**DESTINATARIO_API, "documento": "11444777000161", "nome": "Irregular Ltda"}
    # Given a destinatário SEFAZ finds irregular (302)
    with local.sefaz(irregularDestinatarios=["11444777000161"]):
        emitida = local.emit(irregular, produto["id"], 2, "5.00")
        page = signed_in("faturista@example.com")
        page.goto(f"{local.url}/notas/{emitida['id']}")
        nota_page = NotaPage(page, SCREENSHOTS).wait_status("DENEGADA")
    nota = local.nota(emitida["id"])
    expect(nota_page.field("Status")).to_have_text("DENEGADA (Denegada)")
    expect(nota_page.field("Protocolo da denegação")).to_have_text(nota["protocolo"])
    expect(nota_page.field("Código (cStat)")).to_have_text("302")
    resposta = page.get_by_role("region", name="Resposta da SEFAZ")
    expect(resposta).to_contain_text(f"A denegação consome o número {nota['numero']}")
    expect(nota_page.timeline).to_contain_text("DENEGADA pela SEFAZ")
    expect(nota_page.timeline).to_contain_text("Estoque liberado: reservas devolvidas")
    assert local.stock(produto["id"]) == 10
    # The denied NF-e is kept with its protocol; no DANFE (the goods must not move), no cancel
    expect(nota_page.downloads).to_have_text(["Baixar XML da denegação"])
    expect(nota_page.cancelar).to_have_count(0)
    nota_page.screenshot("nota-denegada")


def test_the_cancel_dialog_holds_the_justificativa_to_sefazs_limits_and_shows_the_apis_422(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    produto = local.produto(5)
    emitida = local.emit(DESTINATARIO_API, produto["id"], 1, "1.00")
    page = signed_in("faturista@example.com")
    page.goto(f"{local.url}/notas/{emitida['id']}")
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    confirmacao = nota_page.ask_to_cancel()
    campo = nota_page.justificativa
    # The limits and the count are the field's description, read with it
    expect(campo).to_be_focused()
    expect(campo).to_have_accessible_description(re.compile(r"De 15 a 255 caracteres.*0 de 255 caracteres"))
    # Too short once trimmed and collapsed, as the API counts: the button stays disabled
    campo.fill("  curta   demais  ")
    expect(confirmacao.get_by_text("12 de 255 caracteres: faltam 3 para o mínimo de 15.")).to_be_visible()
    expect(nota_page.confirmar_cancelamento).to_be_disabled()
    nota_page.screenshot("nota-cancelar-curta")
    # A character SEFAZ's schema refuses (curly quotes, as a word processor writes them) is named
    campo.fill("Cliente desistiu do “pedido”")
    expect(campo).to_have_attribute("aria-invalid", "true")
    expect(campo).to_have_accessible_description(re.compile("A SEFAZ não aceita: “ ”"))
    expect(nota_page.confirmar_cancelamento).to_be_disabled()
    campo.fill("x" * 256)
    expect(confirmacao.get_by_text("256 de 255 caracteres: 1 além do máximo.")).to_be_visible()
    expect(nota_page.confirmar_cancelamento).to_be_disabled()
    campo.fill("Cliente desistiu do pedido")
    expect(confirmacao.get_by_text("26 de 255 caracteres.")).to_be_visible()
    expect(campo).to_have_attribute("aria-invalid", "false")
    expect(nota_page.confirmar_cancelamento).to_be_enabled()
    assert unnamed_controls(page) == []
    assert sent == []

    # Should the API refuse the text all the same (here a shorter one, put in the request on its way),
    # its 422 is shown next to the field, which takes the focus back
    def shorten(route: Route) -> None:
        route.continue_(post_data=json.dumps({"justificativa": "curta"}))

    page.route("**/cancelamento", shorten)
    nota_page.confirmar_cancelamento.click()
    expect(campo).to_have_attribute("aria-invalid", "true")
    expect(campo).to_have_accessible_description(re.compile(r"justificativa must have 15 to 255 characters \(has 5\)"))
    expect(campo).to_be_focused()
    expect(nota_page.confirmar_cancelamento).to_be_disabled()
    page.unroute("**/cancelamento")
    nota_page.screenshot("nota-cancelar-422")
    # "Não, manter" closes the dialog, back to the button that opened it; nothing was asked of SEFAZ
    confirmacao.get_by_role("button", name="Não, manter").click()
    expect(confirmacao).to_be_hidden()
    expect(nota_page.cancelar).to_be_focused()
    # Escape too
    nota_page.ask_to_cancel()
    page.keyboard.press("Escape")
    expect(confirmacao).to_be_hidden()
    expect(nota_page.cancelar).to_be_focused()
    assert len(sent) == 1
    nota = local.nota(emitida["id"])
    assert nota["status"] == "AUTORIZADA" and nota["cancelamentoSolicitadoEm"] is None
    assert nota["cancelamentoJustificativa"] is None


def test_a_cancelamento_sefaz_refuses_after_24_hours_shows_cstat_501_and_the_nfe_de_estorno(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    produto = local.produto(5)
    emitida = local.emit(DESTINATARIO_API, produto["id"], 2, "1.00")
    page = signed_in("faturista@example.com")
    page.goto(f"{local.url}/notas/{emitida['id']}")
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    # Given SEFAZ's clock 25 hours ahead: by SEFAZ's count the 24 hours are over, by the API's not yet
    with local.sefaz(clock={"offsetSeconds": 90_000}):
        nota_page.cancel_with(JUSTIFICATIVA)
        # The button pressed is gone: the focus goes to the section that follows the request
        expect(page.get_by_role("heading", name="Cancelamento", exact=True)).to_be_focused()
        expect(nota_page.cancelamento).to_contain_text("A SEFAZ recusou o cancelamento", timeout=SAGA_TIMEOUT_MS)
    nota = local.nota(emitida["id"])
    recusa = nota["cancelamentoRecusado"]
    assert recusa["cStat"] == 501 and nota["status"] == "AUTORIZADA" and nota["cancelamentoSolicitadoEm"] is None
    # Then the page says why, with SEFAZ's code and reason, and what undoes the operation instead
    expect(nota_page.field("Status")).to_have_text("AUTORIZADA (Autorizada)")
    expect(nota_page.cancelamento).to_contain_text("a NF-e continua autorizada")
    expect(nota_page.field("Código (cStat)")).to_have_text("501")
    expect(nota_page.field("Motivo")).to_have_text(recusa["motivo"])
    expect(nota_page.field("Justificativa")).to_have_text(JUSTIFICATIVA)
    expect(nota_page.cancelamento).to_contain_text("Só uma NF-e de estorno desfaz a operação")
    expect(nota_page.timeline).to_contain_text(f"cStat 501: {recusa['motivo']}")
    expect(nota_page.timeline.get_by_role("listitem").last).to_contain_text("NF-e de estorno")
    # Asking again would get 501 again: no button, and a line says why
    expect(nota_page.cancelar).to_have_count(0)
    expect(nota_page.cancelamento).to_contain_text("Esta nota não pode mais ser cancelada")
    # The stock stays with the authorized nota, and there is no event to download
    assert local.stock(produto["id"]) == 3
    expect(nota_page.downloads).to_have_text(["Baixar XML autorizado", "Baixar DANFE"])
    nota_page.screenshot("nota-cancelamento-recusado")
    assert unnamed_controls(page) == []


def test_the_cancel_button_goes_when_the_deadline_passes_and_a_line_says_why(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    produto = local.produto(5)
    emitida = local.emit(DESTINATARIO_API, produto["id"], 1, "1.00")
    local.wait_nota(emitida["id"], "AUTORIZADA")
    page = signed_in("faturista@example.com")
    # Given the API says the nota can be cancelled for a few seconds more (its answer bent on the way:
    # the API's own clock is not the test's to move)
    prazo = (datetime.now(UTC) + timedelta(seconds=6)).isoformat()

    def bend(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "cancelavelAte": prazo})

    page.route(f"**/api/v1/notas/{emitida['id']}", bend)
    page.goto(f"{local.url}/notas/{emitida['id']}")
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    expect(nota_page.cancelar).to_be_visible()
    # Then, with no reload, the button goes when the deadline passes, and a line says why and what to do
    expect(nota_page.cancelar).to_have_count(0, timeout=15_000)
    expect(nota_page.cancelamento).to_contain_text(f"O prazo de cancelamento terminou em {prazo_local(page, prazo)}")
    expect(nota_page.cancelamento).to_contain_text("Só uma NF-e de estorno desfaz a operação")
    nota_page.screenshot("nota-prazo-encerrado")


def test_the_emit_form_asks_for_the_address_and_ie_and_puts_each_error_by_its_field(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    produto = local.produto(5)
    page = signed_in("faturista@example.com")
    NotasPage(page, SCREENSHOTS).emitir.click()
    form = EmitirNotaPage(page, SCREENSHOTS).wait()
    # UF is a select of the 27 siglas; natureza da operação has its default
    ufs = form.field("UF").locator("option").all_inner_texts()
    assert len(ufs) == 28 and ufs[0] == "Escolha a UF"
    assert {u.split(" - ")[0].strip() for u in ufs[1:]} >= {"SP", "RJ", "DF", "TO", "AC"}
    expect(form.field("Natureza da operação")).to_have_value("Venda de mercadoria")
    # The IE is asked when it may exist: required for a contribuinte, absent for an isento
    indicador = form.field("Indicador de IE")
    indicador.select_option(label="2 - Contribuinte isento de inscrição")
    expect(page.get_by_label("Inscrição estadual")).to_have_count(0)
    indicador.select_option(label="1 - Contribuinte do ICMS")
    expect(form.field("Inscrição estadual (IE)")).to_have_attribute("aria-required", "true")
    # When a contribuinte without IE, a CEP too short and a município of another UF are sent
    form.fill(
        Destinatario(
            "11.222.333/0001-81",
            "ACME Ltda",
            codigo_municipio="3304557",  # Rio de Janeiro, with UF SP
            cep="0131",
            indicador_ie="1 - Contribuinte do ICMS",
        ),
        produto["id"],
        1,
        "1,00",
    )
    form.submit.click()
    # Then each error is next to its field (aria-invalid, and in the field's description)
    for label in ("CEP", "Código do município (IBGE)", "Inscrição estadual (IE)"):
        field = form.field(label)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile(r"\S"))
    expect(page.get_by_role("alert")).to_be_visible()
    form.screenshot("emitir-erros")
    assert local.notas_of(produto["id"]) == []
    # Fixed, it emits
    form.field("CEP").fill("01305-000")
    form.field("Código do município (IBGE)").fill("3550308")
    form.field("Inscrição estadual (IE)").fill("110042490114")
    form.submit.click()
    NotaPage(page, SCREENSHOTS).wait_status("AUTORIZADA")
    (nota,) = local.notas_of(produto["id"])
    assert nota["destinatario"]["indicadorIe"] == 1 and nota["destinatario"]["ie"] == "110042490114"
    assert nota["destinatario"]["endereco"]["cep"].replace("-", "") == "01305000"


def test_the_produto_form_asks_for_ncm_unidade_origem_and_gtin(local: Local, signed_in: Callable[[str], Page]) -> None:
    antigo = local.produto(3, fiscal=False)
    page = signed_in("estoquista@example.com")
    produtos = ProdutosPage(page, SCREENSHOTS)
    produtos.nav("Produtos")
    produtos.wait()
    # Origem offers the nine codes with the NF-e table's wording
    origens = [o.strip() for o in produtos.field("Origem").locator("option").all_inner_texts()]
    assert [o.split(" - ")[0] for o in origens] == [str(n) for n in range(9)]
    assert origens[0].startswith("0 - Nacional")
    assert origens[1].startswith("1 - Estrangeira - Importação direta")
    assert origens[2].startswith("2 - Estrangeira - Adquirida no mercado interno")
    # A bad NCM is refused next to its field
    sku = f"NCM-{uuid.uuid4().hex[:6]}"
    produtos.create(sku, "Mesa", 1, ncm="123")
    expect(produtos.field("NCM")).to_have_attribute("aria-invalid", "true")
    expect(produtos.field("NCM")).to_have_accessible_description(re.compile(r"8 dígitos.+\S"))
    # A good one is listed with its fiscal data, and its stock in pt-BR
    produtos.create(sku, "Mesa de escritório", 12345, ncm="94036000", unidade="KG", origem="1", gtin="7891000315507")
    expect(produtos.message).to_have_text(f"Produto {sku} criado com 12.345 unidades.")
    cells = produtos.row(sku).get_by_role("cell")
    expect(cells).to_have_text(
        [sku, "Mesa de escritório", "12.345", "94036000", "KG", "1 - Estrangeira - importação direta", "7891000315507"]
    )
    # A produto from before the NF-e says what it lacks
    expect(produtos.row(antigo["sku"])).to_contain_text("sem NCM")
    produtos.screenshot("produtos-fiscal")


# An aria snapshot line of a control with no accessible name: `- textbox`, `- button [disabled]`, `- combobox:`.
UNNAMED_CONTROL = re.compile(r"^\s*- (textbox|combobox|spinbutton|button)(?: \[[^\]]*\])?(?::.*)?$")


def unnamed_controls(page: Page) -> list[str]:
    return [line for line in page.get_by_role("main").aria_snapshot().splitlines() if UNNAMED_CONTROL.match(line)]


@pytest.mark.parametrize("path", ["/notas", "/notas/nova", "/produtos"])
def test_every_field_and_button_has_a_name(local: Local, signed_in: Callable[[str], Page], path: str) -> None:
    page = signed_in("admin@example.com")
    page.goto(f"{local.url}{path}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("main").get_by_role("combobox").first).to_be_visible()
    assert unnamed_controls(page) == []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def test_a_page_from_another_origin_passes_the_preflight_and_reads_an_error(
    local: Local, browser: Browser, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>Outro app</title><h1>Outro app</h1>")
    port = int(local.other_origin.rsplit(":", 1)[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{local.other_origin}/index.html")
        token = local.process.sign_in("faturista@example.com")
        script = """async ([api, token]) => {
            const call = async (path, init) => {
                const r = await fetch(api + path, init);
                return {status: r.status, body: await r.json(), requestId: r.headers.get('x-amzn-RequestId')};
            };
            const json = {'Content-Type': 'application/json', Authorization: token};
            const anonymous = {'Content-Type': 'application/json'};
            return {
                // Preflighted (Authorization, a JSON body): the function's own 422
                invalid: await call('/api/v1/notas', {method: 'POST', headers: json, body: '{}'}),
                // Preflighted, then refused by the authorizer: the gateway's 401
                unauthorized: await call('/api/v1/notas', {method: 'POST', headers: anonymous, body: '{}'}),
                // A simple request (no preflight: an unknown path has none to pass): the gateway's 403
                unknown: await call('/api/v1/nada'),
                // With Authorization it needs a preflight, which an unknown path fails (403): not sent
                blocked: await fetch(api + '/api/v1/nada', {headers: {Authorization: token}}).then(
                    () => 'sent', () => 'refused'),
            };
        }"""
        result = page.evaluate(script, [local.url, token])
    finally:
        context.close()
        server.shutdown()
    # Chromium sends no request carrying Authorization cross-origin before its preflight passes (Playwright
    # does not surface preflights): these were allowed, then each error's body was readable
    assert result["invalid"]["status"] == 422 and result["invalid"]["body"]["errors"]
    assert result["unauthorized"]["status"] == 401 and result["unauthorized"]["body"] == {"message": "Unauthorized"}
    # Access-Control-Expose-Headers lets the script read the request id to quote
    assert result["unauthorized"]["requestId"] and result["invalid"]["requestId"]
    assert result["unknown"]["status"] == 403
    assert result["unknown"]["body"] == {"message": "Missing Authentication Token"}
    assert result["blocked"] == "refused"
