"""The web console in a real browser (Debian's Chromium driven by Playwright) against `nfe local`.

One `nfe local` process serves the built console at `/` and the API at `/api/*`, with a second
local origin allowed for the cross-origin test; each test opens its own browser context (its own
session storage) and signs in through the form, as a user does. Every page visited is written as a
screenshot under build/console-screenshots/ (not committed; docs/console.png is one of them).
"""

from __future__ import annotations

import http.server
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
from tests.browser.pages import EmitirNotaPage, NotaPage, NotasPage, ProdutosPage, SignInPage
from tests.conftest import create_database
from tests.test_local_mode import LocalProcess, start_local

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "console-screenshots"
CHROMIUM = Path("/usr/bin/chromium")
DESTINATARIO = ("11.222.333/0001-81", "ACME Ltda")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


class Local:
    def __init__(self, process: LocalProcess, other_origin: str) -> None:
        self.process = process
        self.url = process.url
        self.other_origin = other_origin

    def produto(self, quantidade: int) -> dict[str, Any]:
        sku = f"PW-{uuid.uuid4().hex[:8]}"
        body = {"sku": sku, "nome": f"Produto {sku}", "quantidade": quantidade}
        return dict(self.process.api_as("estoquista@example.com").expect(201, "POST", "/api/v1/produtos", body))

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
    form.fill(*DESTINATARIO, produto_id, quantidade, "10.50")
    form.submit.click()
    page.wait_for_url("**/notas/*-*")
    return NotaPage(page, SCREENSHOTS)


def test_faturista_sees_confirmada_erro_estoque_and_cancelada(local: Local, signed_in: Callable[[str], Page]) -> None:
    produto = local.produto(10)
    page = signed_in("faturista@example.com")
    # A nota within stock is confirmed, live on its page
    first = emit(page, produto["id"], 4).wait_status("CONFIRMADA")
    expect(first.timeline).to_contain_text("CONFIRMADA: estoque reservado")
    first.screenshot("nota-confirmada")
    first_id = first.nota_id
    assert local.stock(produto["id"]) == 6
    # One over the stock left ends in ERRO_ESTOQUE, with the reason
    second = emit(page, produto["id"], 50).wait_status("ERRO_ESTOQUE")
    expect(second.timeline).to_contain_text("ESTOQUE_INSUFICIENTE")
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
    nota = local.process.api_as("faturista@example.com").expect(
        201,
        "POST",
        "/api/v1/notas",
        {
            "destinatario": {"documento": DESTINATARIO[0], "nome": DESTINATARIO[1]},
            "items": [{"produtoId": produto["id"], "quantidade": 1, "valorUnitario": "1.00"}],
        },
    )
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
    detalhe.screenshot("nota-auditor")
    # Typing the emit page's address still shows a page that cannot emit: the API answers 403
    page.goto(f"{local.url}/notas/nova")
    form = EmitirNotaPage(page, SCREENSHOTS).wait()
    form.fill(*DESTINATARIO, produto["id"], 1, "1.00")
    form.submit.click()
    expect(page.get_by_role("alert")).to_have_text("Seu grupo não tem permissão para fazer isso.")


def test_a_double_click_on_emitir_emits_one_nota(local: Local, signed_in: Callable[[str], Page]) -> None:
    produto = local.produto(10)
    page = signed_in("faturista@example.com")
    notas = NotasPage(page, SCREENSHOTS)
    notas.emitir.click()
    form = EmitirNotaPage(page, SCREENSHOTS).wait()
    form.fill(*DESTINATARIO, produto["id"], 1, "2.00")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.headers.get("idempotency-key", "")) if r.method == "POST" else None)
    form.submit.dblclick()
    NotaPage(page, SCREENSHOTS).wait_status("CONFIRMADA")
    time.sleep(0.5)  # a second request, had one left, would have landed by now
    assert len(local.notas_of(produto["id"])) == 1
    # Whatever reached the network carried one key
    assert len(set(sent)) == 1 and sent[0]


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
