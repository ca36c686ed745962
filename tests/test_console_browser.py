"""The web console in a real browser (Debian's Chromium driven by Playwright) against `nfe local`.

One `nfe local` process serves the built console at `/` and the API at `/api/*`, with a second
local origin allowed for the cross-origin test; each test opens its own browser context (its own
session storage) and signs in through the form, as a user does. Every page visited is written as a
screenshot under build/console-screenshots/ (not committed; docs/console.png is one of them).
"""

from __future__ import annotations

import http.server
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from nfe.local.cognito import DEMO_PASSWORD, DEMO_USERS
from nfe.local.console import DEFAULT_DIST
from nfe.pgserver import free_port
from tests.browser.pages import Destinatario, EmitirNotaPage, NotaPage, NotasPage, ProdutosPage, SignInPage
from tests.conftest import create_database
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


class Local:
    def __init__(self, process: LocalProcess, other_origin: str) -> None:
        self.process = process
        self.url = process.url
        self.other_origin = other_origin

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

    def stock(self, produto_id: str) -> int:
        return int(self.process.api.expect(200, "GET", f"/api/v1/produtos/{produto_id}")["quantidade"])

    def notas_of(self, produto_id: str) -> list[dict[str, Any]]:
        page = self.process.api.expect(200, "GET", "/api/v1/notas?limit=100")
        return [n for n in page["items"] if any(i["produtoId"] == produto_id for i in n["items"])]


@pytest.fixture(scope="module")
def local(pg_admin_url: str) -> Iterator[Local]:
    assert (DEFAULT_DIST / "index.html").is_file(), f"the console is not built in {DEFAULT_DIST}: run `make build`"
    other = f"http://127.0.0.1:{free_port()}"
    process = start_local(create_database(pg_admin_url), "--outbox-interval", "1", "--cors-origin", other)
    yield Local(process, other)
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


def emit(page: Page, produto_id: str, quantidade: int) -> NotaPage:
    notas = NotasPage(page, SCREENSHOTS)
    notas.nav("Notas")
    notas.emitir.click()
    form = EmitirNotaPage(page, SCREENSHOTS).wait()
    form.fill(DESTINATARIO, produto_id, quantidade, "10.50")
    form.submit.click()
    page.wait_for_url("**/notas/*-*")
    return NotaPage(page, SCREENSHOTS)


def test_faturista_sees_confirmada_erro_estoque_and_cancelada(local: Local, signed_in: Callable[[str], Page]) -> None:
    produto = local.produto(10)
    page = signed_in("faturista@example.com")
    # A nota within stock is confirmed, live on its page
    first = emit(page, produto["id"], 4).wait_status("CONFIRMADA")
    expect(first.timeline).to_contain_text("CONFIRMADA: estoque reservado")
    # The API keeps the CNPJ's digits alone; the page writes it formatted again
    expect(first.field("Destinatário")).to_have_text("ACME Ltda (11.222.333/0001-81)")
    first.screenshot("nota-confirmada")
    first_id = first.nota_id
    assert local.stock(produto["id"]) == 6
    # One over the stock left ends in ERRO_ESTOQUE, with the reason
    second = emit(page, produto["id"], 50).wait_status("ERRO_ESTOQUE")
    expect(second.timeline).to_contain_text("ESTOQUE_INSUFICIENTE")
    # A nota refused for lack of stock takes no número, and has no document to download
    expect(second.field("Número")).to_have_text("sem número")
    expect(second.baixar_xml).to_have_count(0)
    expect(second.baixar_danfe).to_have_count(0)
    second.screenshot("nota-erro-estoque")
    # Cancelling the first (after confirming) gives the stock back
    page.goto(f"{local.url}/notas/{first_id}")
    first.wait_status("CONFIRMADA").cancel()
    first.wait_status("CANCELADA")
    expect(first.timeline).to_contain_text("CANCELADA: estoque devolvido")
    assert local.stock(produto["id"]) == 10
    first.screenshot("nota-cancelada")
    notas = NotasPage(page, SCREENSHOTS)
    notas.nav("Notas")
    notas.wait().filter("Cancelada")
    expect(notas.rows.filter(has_text="CANCELADA").first).to_be_visible()
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
    detalhe = NotaPage(page, SCREENSHOTS).wait_status("CONFIRMADA")
    expect(detalhe.cancelar).to_have_count(0)
    # Reading is what an auditor does: the documents download for every group that may read
    with page.expect_download() as download:
        detalhe.baixar_xml.click()
    assert download.value.suggested_filename == f"NFe{local.nota(nota['id'])['chave']}.xml"
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
    NotaPage(page, SCREENSHOTS).wait_status("CONFIRMADA")
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
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("CONFIRMADA")
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
    notas.screenshot("notas-filtro-numero")
    notas.filter_numeros(nota["numero"] + 1, nota["numero"] + 1)
    expect(notas.link(nota["numero"])).to_have_count(0)
    notas.filter_numeros(nota["numero"], nota["numero"])
    notas.link(nota["numero"]).click()
    NotaPage(page, SCREENSHOTS).wait_status("CONFIRMADA")
    assert page.url.endswith(f"/notas/{nota['id']}")


def test_baixar_xml_and_danfe_fetch_the_documents_with_the_users_token(
    local: Local, signed_in: Callable[[str], Page]
) -> None:
    # Given a nota for an alphanumeric CNPJ (the 2026 schemas' form), confirmed
    produto = local.produto(5)
    alfanumerico = {**DESTINATARIO_API, "documento": "12.ABC.345/01DE-35", "nome": "Nova Empresa SA"}
    emitida = local.emit(alfanumerico, produto["id"], 2, "3.10")
    page = signed_in("faturista@example.com")
    page.goto(f"{local.url}/notas/{emitida['id']}")
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("CONFIRMADA")
    chave = local.nota(emitida["id"])["chave"]
    expect(nota_page.field("Destinatário")).to_have_text("Nova Empresa SA (12.ABC.345/01DE-35)")
    # When the user downloads the XML: through the API with the token (a plain link would carry none)
    with page.expect_download() as download, page.expect_request("**/xml") as request:
        nota_page.baixar_xml.click()
    token = page.evaluate("JSON.parse(sessionStorage.getItem('nfe.session')).idToken")
    assert request.value.headers.get("authorization") == token
    assert download.value.suggested_filename == f"NFe{chave}.xml"
    xml = Path(download.value.path()).read_text(encoding="utf-8")
    assert f'Id="NFe{chave}"' in xml
    # And the DANFE, a PDF, asked for first in Accept: API Gateway sends binary bodies as bytes only then
    with page.expect_download() as download, page.expect_request("**/danfe") as request:
        nota_page.baixar_danfe.click()
    assert request.value.headers.get("accept", "").startswith("application/pdf")
    assert download.value.suggested_filename == f"NFe{chave}-danfe.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
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
    nota_page = NotaPage(page, SCREENSHOTS).wait_status("CONFIRMADA")
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
    NotaPage(page, SCREENSHOTS).wait_status("CONFIRMADA")
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
