"""Page objects of the web console: one small class per page, locating as a user reads the page
(roles and labels, never CSS classes)."""

from __future__ import annotations

import re
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

    def filter_serie(self, serie: int | str) -> None:
        self.page.get_by_label("Série").fill(str(serie))

    def filter_numeros(self, de: int | str, ate: int | str) -> None:
        self.page.get_by_label("Número de").fill(str(de))
        self.page.get_by_label("Número até").fill(str(ate))

    @property
    def rows(self) -> Locator:
        return self.page.get_by_role("table").get_by_role("row")

    def link(self, numero: int) -> Locator:
        return self.page.get_by_role("table").get_by_role("link", name=str(numero), exact=True)


@dataclass(frozen=True)
class Destinatario:
    """What the emit form asks of the destinatário, as a user types it."""

    documento: str
    nome: str
    logradouro: str = "Rua Augusta"
    numero: str = "500"
    complemento: str = ""
    bairro: str = "Consolação"
    codigo_municipio: str = "3550308"
    municipio: str = "São Paulo"
    uf: str = "SP"
    cep: str = "01305-000"
    indicador_ie: str = "9 - Não contribuinte"
    ie: str = ""
    email: str = ""


class EmitirNotaPage(ConsolePage):
    def wait(self) -> EmitirNotaPage:
        expect(self.page.get_by_role("heading", name="Emitir nota")).to_be_visible()
        return self

    def fill_destinatario(self, d: Destinatario) -> None:
        self.page.get_by_label("CPF ou CNPJ").fill(d.documento)
        self.page.get_by_label("Nome do destinatário").fill(d.nome)
        self.page.get_by_label("Indicador de IE").select_option(label=d.indicador_ie)
        if d.ie:
            self.page.get_by_label("Inscrição estadual").fill(d.ie)
        self.page.get_by_label("E-mail").fill(d.email)
        endereco = self.page.get_by_role("group", name="Endereço do destinatário")
        endereco.get_by_label("Logradouro").fill(d.logradouro)
        endereco.get_by_label("Número", exact=True).fill(d.numero)
        endereco.get_by_label("Complemento").fill(d.complemento)
        endereco.get_by_label("Bairro").fill(d.bairro)
        endereco.get_by_label("Código do município (IBGE)").fill(d.codigo_municipio)
        endereco.get_by_label("Município", exact=True).fill(d.municipio)
        endereco.get_by_label("UF").select_option(value=d.uf)
        endereco.get_by_label("CEP").fill(d.cep)

    def fill_item(self, n: int, produto_id: str, quantidade: int, valor: str) -> None:
        if self.page.get_by_label(f"Produto do item {n}").count() == 0:
            self.page.get_by_role("button", name="Adicionar item").click()
        produto = self.page.get_by_label(f"Produto do item {n}")
        expect(produto.locator(f"option[value='{produto_id}']")).to_have_count(1)
        produto.select_option(value=produto_id)
        self.page.get_by_label(f"Quantidade do item {n}").fill(str(quantidade))
        self.page.get_by_label(f"Valor unitário do item {n}").fill(valor)

    def fill(self, destinatario: Destinatario, produto_id: str, quantidade: int, valor: str) -> None:
        self.fill_destinatario(destinatario)
        self.fill_item(1, produto_id, quantidade, valor)

    def field(self, label: str) -> Locator:
        """A field by its label; the API's message for it is part of its accessible description."""
        return self.page.get_by_label(label, exact=True)

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

    def field(self, term: str) -> Locator:
        """The value the nota's record shows for `term` (Número, Série, Chave de acesso, ...): the
        definition after that term (ARIA lets neither be named, so the pair is found by order)."""
        term_ = self.page.get_by_role("term").filter(has_text=re.compile(f"^{re.escape(term)}$"))
        return term_.locator("xpath=following-sibling::*[1]")

    @property
    def copiar_chave(self) -> Locator:
        return self.page.get_by_role("button", name="Copiar chave")

    @property
    def downloads(self) -> Locator:
        """Every download button the nota offers."""
        return self.page.get_by_role("region", name="Documentos fiscais").get_by_role("button")

    @property
    def baixar_xml(self) -> Locator:
        """The XML as built, unsigned: before SEFAZ's answer, or after a rejection."""
        return self.page.get_by_role("button", name="Baixar XML", exact=True)

    @property
    def baixar_xml_autorizado(self) -> Locator:
        """The nfeProc: the signed NF-e with SEFAZ's protocol."""
        return self.page.get_by_role("button", name="Baixar XML autorizado", exact=True)

    @property
    def baixar_danfe(self) -> Locator:
        """The authorized DANFE, with the protocol."""
        return self.page.get_by_role("button", name="Baixar DANFE", exact=True)

    @property
    def baixar_danfe_previa(self) -> Locator:
        return self.page.get_by_role("button", name="Baixar DANFE (prévia)", exact=True)

    @property
    def items(self) -> Locator:
        return self.page.get_by_role("table", name="Itens da nota").get_by_role("row")

    @property
    def timeline(self) -> Locator:
        return self.page.get_by_role("list", name="Linha do tempo da saga")

    @property
    def baixar_evento_cancelamento(self) -> Locator:
        """The cancelamento's procEventoNFe, once SEFAZ registered it."""
        return self.page.get_by_role("button", name="Baixar evento de cancelamento", exact=True)

    @property
    def cancelamento(self) -> Locator:
        """The cancelamento's section: the request in flight or SEFAZ's refusal, and the button."""
        return self.page.get_by_role("region", name="Cancelamento", exact=True)

    @property
    def cancelar(self) -> Locator:
        return self.page.get_by_role("button", name="Cancelar nota")

    @property
    def confirmacao(self) -> Locator:
        return self.page.get_by_role("dialog", name="Cancelar esta nota?")

    @property
    def justificativa(self) -> Locator:
        return self.confirmacao.get_by_label("Justificativa do cancelamento")

    @property
    def confirmar_cancelamento(self) -> Locator:
        return self.confirmacao.get_by_role("button", name="Sim, cancelar a nota")

    def ask_to_cancel(self) -> Locator:
        """Clicks "Cancelar nota"; returns the confirmation it opens."""
        self.cancelar.click()
        expect(self.confirmacao).to_be_visible()
        return self.confirmacao

    def cancel_with(self, justificativa: str) -> None:
        """Asks to cancel, types the justificativa (xJust) and confirms."""
        self.ask_to_cancel()
        self.justificativa.fill(justificativa)
        self.confirmar_cancelamento.click()
        expect(self.confirmacao).to_be_hidden()


class ProdutosPage(ConsolePage):
    def wait(self) -> ProdutosPage:
        expect(self.page.get_by_role("heading", name="Produtos", exact=True)).to_be_visible()
        return self

    def create(
        self,
        sku: str,
        nome: str,
        quantidade: int,
        ncm: str = "94036000",
        unidade: str = "UN",
        origem: str = "0",
        gtin: str = "",
    ) -> None:
        """`origem`: the code, 0 to 8, whose official label the select shows."""
        self.page.get_by_label("SKU").fill(sku)
        self.page.get_by_label("Nome", exact=True).fill(nome)
        self.page.get_by_label("Quantidade inicial").fill(str(quantidade))
        self.page.get_by_label("NCM").fill(ncm)
        self.page.get_by_label("Unidade").fill(unidade)
        select = self.page.get_by_label("Origem")
        select.select_option(
            label=next(o for o in select.locator("option").all_inner_texts() if o.startswith(f"{origem} - "))
        )
        self.page.get_by_label("GTIN").fill(gtin)
        self.page.get_by_role("button", name="Criar produto").click()

    def field(self, label: str) -> Locator:
        return self.page.get_by_label(label, exact=True)

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
