"""Page objects of the web console: one small class per page, locating as a user reads the page
(roles and labels, never CSS classes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

# Long enough for a saga on a loaded 2-core machine; the eager path usually takes well under 1 s.
SAGA_TIMEOUT_MS = 20_000


@dataclass
class ConsolePage:
    page: Page
    screenshots: Path

    def screenshot(self, name: str) -> None:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=True)

    def nav(self, name: str) -> None:
        self.page.get_by_role("navigation", name="Principal").get_by_role("link", name=name).click()


class SignInPage(ConsolePage):
    def open(self, base_url: str) -> SignInPage:
        self.page.goto(f"{base_url}/entrar")
        expect(self.page.get_by_role("heading", name="Entrar")).to_be_visible()
        return self

    def sign_in(self, email: str, password: str) -> None:
        self.page.get_by_label("E-mail").fill(email)
        self.page.get_by_label("Senha").fill(password)
        self.page.get_by_role("button", name="Entrar").click()

    @property
    def alert(self) -> Locator:
        return self.page.get_by_role("alert")


class NotasPage(ConsolePage):
    def wait(self) -> NotasPage:
        expect(self.page.get_by_role("heading", name="Notas fiscais")).to_be_visible()
        return self

    @property
    def emitir(self) -> Locator:
        return self.page.get_by_role("link", name="Emitir nota")

    def filter(self, label: str) -> None:
        self.page.get_by_label("Status").select_option(label=label)

    @property
    def rows(self) -> Locator:
        return self.page.get_by_role("table").get_by_role("row")


class EmitirNotaPage(ConsolePage):
    def wait(self) -> EmitirNotaPage:
        expect(self.page.get_by_role("heading", name="Emitir nota")).to_be_visible()
        return self

    def fill(self, documento: str, nome: str, produto_id: str, quantidade: int, valor: str) -> None:
        self.page.get_by_label("CPF ou CNPJ").fill(documento)
        self.page.get_by_label("Nome do destinatário").fill(nome)
        produto = self.page.get_by_label("Produto do item 1")
        expect(produto.locator(f"option[value='{produto_id}']")).to_have_count(1)
        produto.select_option(value=produto_id)
        self.page.get_by_label("Quantidade do item 1").fill(str(quantidade))
        self.page.get_by_label("Valor unitário do item 1").fill(valor)

    @property
    def submit(self) -> Locator:
        return self.page.get_by_role("button", name="Emitir", exact=True)


class NotaPage(ConsolePage):
    def wait_status(self, status: str) -> NotaPage:
        expect(self.page.get_by_role("status")).to_have_text(status, timeout=SAGA_TIMEOUT_MS)
        return self

    @property
    def nota_id(self) -> str:
        return self.page.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def timeline(self) -> Locator:
        return self.page.get_by_role("list", name="Linha do tempo da saga")

    @property
    def cancelar(self) -> Locator:
        return self.page.get_by_role("button", name="Cancelar nota")

    def cancel(self) -> None:
        self.cancelar.click()
        dialog = self.page.get_by_role("dialog", name="Cancelar esta nota?")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Sim, cancelar a nota").click()


class ProdutosPage(ConsolePage):
    def wait(self) -> ProdutosPage:
        expect(self.page.get_by_role("heading", name="Produtos", exact=True)).to_be_visible()
        return self

    def create(self, sku: str, nome: str, quantidade: int) -> None:
        self.page.get_by_label("SKU").fill(sku)
        self.page.get_by_label("Nome", exact=True).fill(nome)
        self.page.get_by_label("Quantidade inicial").fill(str(quantidade))
        self.page.get_by_role("button", name="Criar produto").click()

    def register_entrada(self, sku: str, quantidade: int) -> None:
        produto = self.page.get_by_label("Produto", exact=True)
        produto.select_option(
            label=next(o for o in produto.locator("option").all_inner_texts() if o.startswith(f"{sku}:"))
        )
        self.page.get_by_label("Quantidade da entrada").fill(str(quantidade))
        self.page.get_by_role("button", name="Registrar entrada").click()

    def row(self, sku: str) -> Locator:
        return self.page.get_by_role("row").filter(has=self.page.get_by_role("cell", name=sku, exact=True))

    @property
    def message(self) -> Locator:
        return self.page.get_by_role("status")
