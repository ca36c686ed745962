import { DecimalPipe, formatNumber } from '@angular/common';
import { ChangeDetectionStrategy, Component, LOCALE_ID, effect, inject, signal } from '@angular/core';
import { NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';

import { AuthService } from '../auth/auth.service';
import { ApiError, applyFieldErrors } from '../core/api-error';
import { ProdutoOut } from '../core/api-types';
import { CursorPages } from '../core/pagination';
import { ORIGENS, origemCurta } from './origens';
import { ProdutosApi } from './produtos-api';

const PAGE_SIZE = 20;

@Component({
  selector: 'nfe-produtos-page',
  imports: [ReactiveFormsModule, DecimalPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>Produtos</h1>
    @if (mensagem(); as texto) {
      <p class="sucesso" role="status">{{ texto }}</p>
    }
    @if (erroLista(); as texto) {
      <p class="erro" role="alert">{{ texto }}</p>
    }
    <table>
      <caption>Produtos em estoque, página {{ pages.page() }}</caption>
      <thead>
        <tr>
          <th scope="col">SKU</th>
          <th scope="col">Nome</th>
          <th scope="col">Disponível</th>
          <th scope="col">NCM</th>
          <th scope="col">Unidade</th>
          <th scope="col">Origem</th>
          <th scope="col">GTIN</th>
        </tr>
      </thead>
      <tbody>
        @for (produto of produtos(); track produto.id) {
          <tr>
            <td>{{ produto.sku }}</td>
            <td>{{ produto.nome }}</td>
            <td>{{ produto.quantidade | number }}</td>
            <!-- Produtos from before the NF-e have no fiscal data, and cannot be invoiced until they do. -->
            <td>{{ produto.ncm ?? 'sem NCM' }}</td>
            <td>{{ produto.unidade ?? '' }}</td>
            <td>{{ origem(produto.origem) }}</td>
            <td>{{ produto.gtin ?? (produto.ncm ? 'SEM GTIN' : '') }}</td>
          </tr>
        } @empty {
          <tr><td colspan="7">Nenhum produto.</td></tr>
        }
      </tbody>
    </table>
    <nav class="paginas" aria-label="Páginas de produtos">
      <button type="button" (click)="pages.back()" [disabled]="!pages.hasPrevious()">Página anterior</button>
      <button type="button" (click)="pages.forward()" [disabled]="!pages.next()">Próxima página</button>
    </nav>

    @if (auth.canManageEstoque()) {
      <div class="colunas">
        <section class="cartao" aria-labelledby="titulo-novo-produto">
          <h2 id="titulo-novo-produto">Novo produto</h2>
          <form [formGroup]="novo" (ngSubmit)="create()" novalidate>
            <label for="sku">SKU</label>
            <input id="sku" formControlName="sku" [attr.aria-invalid]="!!novo.controls.sku.errors?.['api']" aria-describedby="sku-erro" />
            <p id="sku-erro" class="erro-campo">{{ novo.controls.sku.errors?.['api'] }}</p>
            <label for="nome">Nome</label>
            <input id="nome" formControlName="nome" [attr.aria-invalid]="!!novo.controls.nome.errors?.['api']" aria-describedby="nome-erro" />
            <p id="nome-erro" class="erro-campo">{{ novo.controls.nome.errors?.['api'] }}</p>
            <label for="quantidade">Quantidade inicial</label>
            <input id="quantidade" type="number" min="0" formControlName="quantidade" [attr.aria-invalid]="!!novo.controls.quantidade.errors?.['api']" aria-describedby="quantidade-erro" />
            <p id="quantidade-erro" class="erro-campo">{{ novo.controls.quantidade.errors?.['api'] }}</p>
            <label for="ncm">NCM</label>
            <input id="ncm" formControlName="ncm" inputmode="numeric" maxlength="10" [attr.aria-invalid]="!!novo.controls.ncm.errors?.['api']" aria-describedby="ncm-dica ncm-erro" />
            <p id="ncm-dica" class="dica">8 dígitos, como em 94036000.</p>
            <p id="ncm-erro" class="erro-campo">{{ novo.controls.ncm.errors?.['api'] }}</p>
            <label for="unidade">Unidade</label>
            <input id="unidade" formControlName="unidade" maxlength="6" [attr.aria-invalid]="!!novo.controls.unidade.errors?.['api']" aria-describedby="unidade-dica unidade-erro" />
            <p id="unidade-dica" class="dica">Unidade comercial: UN, KG, CX...</p>
            <p id="unidade-erro" class="erro-campo">{{ novo.controls.unidade.errors?.['api'] }}</p>
            <label for="origem">Origem</label>
            <select id="origem" formControlName="origem" [attr.aria-invalid]="!!novo.controls.origem.errors?.['api']" aria-describedby="origem-erro">
              @for (origem of origens; track origem.codigo) {
                <option [ngValue]="origem.codigo">{{ origem.rotulo }}</option>
              }
            </select>
            <p id="origem-erro" class="erro-campo">{{ novo.controls.origem.errors?.['api'] }}</p>
            <label for="gtin">GTIN (opcional)</label>
            <input id="gtin" formControlName="gtin" inputmode="numeric" maxlength="14" [attr.aria-invalid]="!!novo.controls.gtin.errors?.['api']" aria-describedby="gtin-dica gtin-erro" />
            <p id="gtin-dica" class="dica">Código de barras (EAN/GTIN); em branco para SEM GTIN.</p>
            <p id="gtin-erro" class="erro-campo">{{ novo.controls.gtin.errors?.['api'] }}</p>
            @if (erroNovo(); as texto) {
              <p class="erro" role="alert">{{ texto }}</p>
            }
            <button type="submit" [disabled]="enviando()">Criar produto</button>
          </form>
        </section>
        <section class="cartao" aria-labelledby="titulo-entrada">
          <h2 id="titulo-entrada">Entrada de estoque</h2>
          <form [formGroup]="entrada" (ngSubmit)="registerEntrada()" novalidate>
            <label for="entrada-produto">Produto</label>
            <select id="entrada-produto" formControlName="produtoId">
              <option value="">Escolha um produto</option>
              @for (produto of produtos(); track produto.id) {
                <option [value]="produto.id">{{ produto.sku }}: {{ produto.nome }}</option>
              }
            </select>
            <label for="entrada-quantidade">Quantidade da entrada</label>
            <input id="entrada-quantidade" type="number" min="1" formControlName="quantidade" aria-describedby="entrada-quantidade-erro" />
            <p id="entrada-quantidade-erro" class="erro-campo">{{ entrada.controls.quantidade.errors?.['api'] }}</p>
            @if (erroEntrada(); as texto) {
              <p class="erro" role="alert">{{ texto }}</p>
            }
            <button type="submit" [disabled]="enviando()">Registrar entrada</button>
          </form>
        </section>
      </div>
    }
  `,
})
export class ProdutosPage {
  private readonly api = inject(ProdutosApi);
  protected readonly auth = inject(AuthService);
  private readonly fb = inject(NonNullableFormBuilder);
  protected readonly pages = new CursorPages();
  protected readonly produtos = signal<ProdutoOut[]>([]);
  protected readonly mensagem = signal<string | null>(null);
  protected readonly erroLista = signal<string | null>(null);
  protected readonly erroNovo = signal<string | null>(null);
  protected readonly erroEntrada = signal<string | null>(null);
  protected readonly enviando = signal(false);
  protected readonly novo = this.fb.group({
    sku: ['', Validators.required],
    nome: ['', Validators.required],
    quantidade: [0],
    ncm: [''],
    unidade: ['UN'],
    origem: [0],
    gtin: [''],
  });
  protected readonly entrada = this.fb.group({ produtoId: [''], quantidade: [1] });
  protected readonly origens = ORIGENS;
  protected readonly origem = origemCurta;
  private readonly locale = inject(LOCALE_ID);

  constructor() {
    effect(() => this.load(this.pages.current()));
  }

  /** Quantities as pt-BR writes them: 1.234. */
  protected numero(value: number): string {
    return formatNumber(value, this.locale);
  }

  private load(cursor: string | null): void {
    this.api.list(PAGE_SIZE, cursor).subscribe({
      next: (page) => {
        this.produtos.set(page.items);
        this.pages.next.set(page.nextCursor);
        this.erroLista.set(null);
      },
      error: (error: ApiError) => this.erroLista.set(error.message),
    });
  }

  create(): void {
    this.enviando.set(true);
    this.erroNovo.set(null);
    const { gtin, ...body } = this.novo.getRawValue();
    // NCM and unidade are sent even when blank, so that the API's 422 names them; a blank GTIN is SEM GTIN.
    this.api.create({ ...body, quantidade: Number(body.quantidade), ncm: body.ncm.trim(), unidade: body.unidade.trim(), gtin: gtin.trim() || undefined }).subscribe({
      next: (produto) => {
        this.enviando.set(false);
        this.mensagem.set(`Produto ${produto.sku} criado com ${this.numero(produto.quantidade)} unidades.`);
        this.novo.reset();
        this.pages.reset();
        this.load(null);
      },
      error: (error: ApiError) => {
        this.enviando.set(false);
        const rest = applyFieldErrors(this.novo, error);
        this.erroNovo.set(error.errors.length && !rest.length ? 'Corrija os campos indicados.' : [error.message, ...rest].join(' '));
      },
    });
  }

  registerEntrada(): void {
    const { produtoId, quantidade } = this.entrada.getRawValue();
    if (!produtoId) {
      this.erroEntrada.set('Escolha um produto.');
      return;
    }
    this.enviando.set(true);
    this.erroEntrada.set(null);
    this.api.registerEntrada(produtoId, { quantidade: Number(quantidade) }).subscribe({
      next: (produto) => {
        this.enviando.set(false);
        this.mensagem.set(
          `Entrada de ${this.numero(produto.entrada.quantidade)} em ${produto.sku}: agora ${this.numero(produto.quantidade)} disponíveis.`,
        );
        this.produtos.update((list) => list.map((p) => (p.id === produto.id ? { ...p, quantidade: produto.quantidade } : p)));
      },
      error: (error: ApiError) => {
        this.enviando.set(false);
        const rest = applyFieldErrors(this.entrada, error);
        this.erroEntrada.set(error.errors.length && !rest.length ? 'Corrija os campos indicados.' : [error.message, ...rest].join(' '));
      },
    });
  }
}
