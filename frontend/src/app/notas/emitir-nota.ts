import { DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { FormArray, NonNullableFormBuilder, ReactiveFormsModule } from '@angular/forms';
import { Router } from '@angular/router';

import { ApiError, applyFieldErrors } from '../core/api-error';
import { Destinatario, IndicadorIe, NotaIn, ProdutoOut } from '../core/api-types';
import { ProdutosApi } from '../produtos/produtos-api';
import { INDICADORES_IE, UFS } from './destinatario';
import { NotasApi } from './notas-api';

const NATUREZA_PADRAO = 'Venda de mercadoria';

/** `1.234,50` (as a pt-BR user types it) or `1234.50` -> `1234.50`, the API's decimal string. */
export function decimalDaApi(valor: string): string {
  const texto = valor.trim().replace(/^R\$\s*/, '');
  return texto.includes(',') ? texto.replace(/\./g, '').replace(',', '.') : texto;
}

/** A trimmed text, or undefined when blank: optional fields are left out of the body, not sent empty. */
function opcional(valor: string): string | undefined {
  return valor.trim() || undefined;
}

@Component({
  selector: 'nfe-emitir-nota',
  imports: [ReactiveFormsModule, DecimalPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>Emitir nota</h1>
    <form [formGroup]="form" (ngSubmit)="submit()" novalidate class="cartao">
      <fieldset formGroupName="destinatario">
        <legend>Destinatário</legend>
        <div class="campos">
          <div>
            <label for="documento">CPF ou CNPJ</label>
            <input id="documento" formControlName="documento" [attr.aria-invalid]="invalido('destinatario.documento')" aria-describedby="documento-erro" />
            <p id="documento-erro" class="erro-campo">{{ erro('destinatario.documento') }}</p>
          </div>
          <div>
            <label for="destinatario-nome">Nome do destinatário</label>
            <input id="destinatario-nome" formControlName="nome" [attr.aria-invalid]="invalido('destinatario.nome')" aria-describedby="destinatario-nome-erro" />
            <p id="destinatario-nome-erro" class="erro-campo">{{ erro('destinatario.nome') }}</p>
          </div>
          <div>
            <label for="indicador-ie">Indicador de IE</label>
            <select id="indicador-ie" formControlName="indicadorIe" [attr.aria-invalid]="invalido('destinatario.indicadorIe')" aria-describedby="indicador-ie-erro">
              <option [ngValue]="null">Escolha o indicador</option>
              @for (indicador of indicadores; track indicador.codigo) {
                <option [ngValue]="indicador.codigo">{{ indicador.rotulo }}</option>
              }
            </select>
            <p id="indicador-ie-erro" class="erro-campo">{{ erro('destinatario.indicadorIe') }}</p>
          </div>
          @if (indicadorIe() !== 2) {
            <div>
              <label for="ie">Inscrição estadual (IE){{ indicadorIe() === 1 ? '' : ' (opcional)' }}</label>
              <input
                id="ie"
                formControlName="ie"
                inputmode="numeric"
                [attr.aria-required]="indicadorIe() === 1"
                [attr.aria-invalid]="invalido('destinatario.ie')"
                aria-describedby="ie-dica ie-erro"
              />
              <p id="ie-dica" class="dica">Obrigatória para contribuinte do ICMS (indicador 1).</p>
              <p id="ie-erro" class="erro-campo">{{ erro('destinatario.ie') }}</p>
            </div>
          }
          <div>
            <label for="email">E-mail (opcional)</label>
            <input id="email" type="email" formControlName="email" [attr.aria-invalid]="invalido('destinatario.email')" aria-describedby="email-erro" />
            <p id="email-erro" class="erro-campo">{{ erro('destinatario.email') }}</p>
          </div>
        </div>
        <fieldset formGroupName="endereco">
          <legend>Endereço do destinatário</legend>
          <div class="campos">
            <div>
              <label for="logradouro">Logradouro</label>
              <input id="logradouro" formControlName="logradouro" [attr.aria-invalid]="invalido('destinatario.endereco.logradouro')" aria-describedby="logradouro-erro" />
              <p id="logradouro-erro" class="erro-campo">{{ erro('destinatario.endereco.logradouro') }}</p>
            </div>
            <div>
              <label for="numero">Número</label>
              <input id="numero" formControlName="numero" [attr.aria-invalid]="invalido('destinatario.endereco.numero')" aria-describedby="numero-erro" />
              <p id="numero-erro" class="erro-campo">{{ erro('destinatario.endereco.numero') }}</p>
            </div>
            <div>
              <label for="complemento">Complemento (opcional)</label>
              <input id="complemento" formControlName="complemento" [attr.aria-invalid]="invalido('destinatario.endereco.complemento')" aria-describedby="complemento-erro" />
              <p id="complemento-erro" class="erro-campo">{{ erro('destinatario.endereco.complemento') }}</p>
            </div>
            <div>
              <label for="bairro">Bairro</label>
              <input id="bairro" formControlName="bairro" [attr.aria-invalid]="invalido('destinatario.endereco.bairro')" aria-describedby="bairro-erro" />
              <p id="bairro-erro" class="erro-campo">{{ erro('destinatario.endereco.bairro') }}</p>
            </div>
            <div>
              <label for="codigo-municipio">Código do município (IBGE)</label>
              <input
                id="codigo-municipio"
                formControlName="codigoMunicipio"
                inputmode="numeric"
                maxlength="7"
                [attr.aria-invalid]="invalido('destinatario.endereco.codigoMunicipio')"
                aria-describedby="codigo-municipio-dica codigo-municipio-erro"
              />
              <p id="codigo-municipio-dica" class="dica">7 dígitos; os 2 primeiros são os da UF.</p>
              <p id="codigo-municipio-erro" class="erro-campo">{{ erro('destinatario.endereco.codigoMunicipio') }}</p>
            </div>
            <div>
              <label for="municipio">Município</label>
              <input id="municipio" formControlName="municipio" [attr.aria-invalid]="invalido('destinatario.endereco.municipio')" aria-describedby="municipio-erro" />
              <p id="municipio-erro" class="erro-campo">{{ erro('destinatario.endereco.municipio') }}</p>
            </div>
            <div>
              <label for="uf">UF</label>
              <select id="uf" formControlName="uf" [attr.aria-invalid]="invalido('destinatario.endereco.uf')" aria-describedby="uf-erro">
                <option value="">Escolha a UF</option>
                @for (uf of ufs; track uf.sigla) {
                  <option [value]="uf.sigla">{{ uf.sigla }} - {{ uf.nome }}</option>
                }
              </select>
              <p id="uf-erro" class="erro-campo">{{ erro('destinatario.endereco.uf') }}</p>
            </div>
            <div>
              <label for="cep">CEP</label>
              <input id="cep" formControlName="cep" inputmode="numeric" maxlength="9" [attr.aria-invalid]="invalido('destinatario.endereco.cep')" aria-describedby="cep-erro" />
              <p id="cep-erro" class="erro-campo">{{ erro('destinatario.endereco.cep') }}</p>
            </div>
          </div>
        </fieldset>
      </fieldset>
      <fieldset>
        <legend>Operação</legend>
        <label for="natureza-operacao">Natureza da operação</label>
        <input id="natureza-operacao" formControlName="naturezaOperacao" [attr.aria-invalid]="invalido('naturezaOperacao')" aria-describedby="natureza-operacao-erro" />
        <p id="natureza-operacao-erro" class="erro-campo">{{ erro('naturezaOperacao') }}</p>
      </fieldset>
      <fieldset>
        <legend>Itens</legend>
        <div formArrayName="items">
          @for (item of items.controls; track item; let i = $index) {
            <div class="item" [formGroupName]="i" role="group" [attr.aria-label]="'Item ' + (i + 1)">
              <label [for]="'produto-' + i">Produto do item {{ i + 1 }}</label>
              <select [id]="'produto-' + i" formControlName="produtoId" [attr.aria-invalid]="invalido('items.' + i + '.produtoId')" [attr.aria-describedby]="'produto-' + i + '-erro'">
                <option value="">Escolha um produto</option>
                @for (produto of produtos(); track produto.id) {
                  <option [value]="produto.id">
                    {{ produto.sku }}: {{ produto.nome }} ({{ produto.quantidade | number }} disponíveis){{ produto.ncm ? '' : ', sem NCM: não pode ser faturado' }}
                  </option>
                }
              </select>
              <p [id]="'produto-' + i + '-erro'" class="erro-campo">{{ erro('items.' + i + '.produtoId') }}</p>
              <label [for]="'quantidade-' + i">Quantidade do item {{ i + 1 }}</label>
              <input [id]="'quantidade-' + i" type="number" min="1" formControlName="quantidade" [attr.aria-invalid]="invalido('items.' + i + '.quantidade')" [attr.aria-describedby]="'quantidade-' + i + '-erro'" />
              <p [id]="'quantidade-' + i + '-erro'" class="erro-campo">{{ erro('items.' + i + '.quantidade') }}</p>
              <label [for]="'valor-' + i">Valor unitário do item {{ i + 1 }}</label>
              <input [id]="'valor-' + i" inputmode="decimal" formControlName="valorUnitario" [attr.aria-invalid]="invalido('items.' + i + '.valorUnitario')" [attr.aria-describedby]="'valor-' + i + '-erro'" />
              <p [id]="'valor-' + i + '-erro'" class="erro-campo">{{ erro('items.' + i + '.valorUnitario') }}</p>
              @if (items.length > 1) {
                <button type="button" class="secundario" (click)="removeItem(i)">Remover item {{ i + 1 }}</button>
              }
            </div>
          }
        </div>
        <button type="button" class="secundario" (click)="addItem()">Adicionar item</button>
      </fieldset>
      @if (erroGeral(); as texto) {
        <p class="erro" role="alert">{{ texto }}</p>
      }
      <button type="submit" [disabled]="enviando()">Emitir</button>
    </form>
  `,
})
export class EmitirNota {
  private readonly notas = inject(NotasApi);
  private readonly produtosApi = inject(ProdutosApi);
  private readonly router = inject(Router);
  private readonly fb = inject(NonNullableFormBuilder);
  protected readonly ufs = UFS;
  protected readonly indicadores = INDICADORES_IE;
  protected readonly produtos = signal<ProdutoOut[]>([]);
  protected readonly erroGeral = signal<string | null>(null);
  protected readonly enviando = signal(false);
  // Every field's shape is the API's body (destinatario.endereco.cep, items.0.quantidade), so each 422
  // error finds its control by the path the API names.
  protected readonly form = this.fb.group({
    destinatario: this.fb.group({
      documento: [''],
      nome: [''],
      endereco: this.fb.group({
        logradouro: [''],
        numero: [''],
        complemento: [''],
        bairro: [''],
        codigoMunicipio: [''],
        municipio: [''],
        uf: [''],
        cep: [''],
      }),
      indicadorIe: this.fb.control<IndicadorIe | null>(null),
      ie: [''],
      email: [''],
    }),
    naturezaOperacao: [NATUREZA_PADRAO],
    items: this.fb.array([this.newItem()]),
  });
  protected readonly indicadorIe = toSignal(this.form.controls.destinatario.controls.indicadorIe.valueChanges, {
    initialValue: null,
  });
  /**
   * One key per submission: it is made at the first send of a form's content and reused for every
   * send of that same content (a double click, a retry after a network error), so the API emits one
   * nota; editing the form starts a new submission.
   */
  private idempotencyKey: string | null = null;

  constructor() {
    this.form.valueChanges.subscribe(() => (this.idempotencyKey = null));
    this.produtosApi.list(100, null).subscribe({
      next: (page) => this.produtos.set(page.items),
      error: (error: ApiError) => this.erroGeral.set(error.message),
    });
  }

  protected get items(): FormArray {
    return this.form.controls.items;
  }

  /** The API's message for the control at `path`, if its last answer named it. */
  protected erro(path: string): string {
    return (this.form.get(path)?.errors?.['api'] as string | undefined) ?? '';
  }

  protected invalido(path: string): boolean {
    return !!this.form.get(path)?.errors?.['api'];
  }

  private newItem() {
    return this.fb.group({ produtoId: [''], quantidade: [1], valorUnitario: ['10,00'] });
  }

  addItem(): void {
    this.form.controls.items.push(this.newItem());
  }

  removeItem(index: number): void {
    this.form.controls.items.removeAt(index);
  }

  private body(): NotaIn {
    const { destinatario: d, naturezaOperacao, items } = this.form.getRawValue();
    const e = d.endereco;
    const destinatario = {
      documento: d.documento.trim(),
      nome: d.nome.trim(),
      endereco: {
        logradouro: e.logradouro.trim(),
        numero: e.numero.trim(),
        complemento: opcional(e.complemento),
        bairro: e.bairro.trim(),
        codigoMunicipio: e.codigoMunicipio.trim(),
        municipio: e.municipio.trim(),
        uf: e.uf,
        cep: e.cep.trim(),
      },
      // Left out when not chosen: the API's 422 then names destinatario.indicadorIe.
      indicadorIe: d.indicadorIe ?? undefined,
      // An isento (2) has no IE to send, whatever the hidden field still holds.
      ie: d.indicadorIe === 2 ? undefined : opcional(d.ie),
      email: opcional(d.email),
    } as Destinatario;
    return {
      destinatario,
      naturezaOperacao: opcional(naturezaOperacao) ?? NATUREZA_PADRAO,
      items: items.map((item) => ({ ...item, quantidade: Number(item.quantidade), valorUnitario: decimalDaApi(item.valorUnitario) })),
    };
  }

  submit(): void {
    if (this.enviando()) {
      return; // the second click of a double click: the first send is in flight
    }
    this.idempotencyKey ??= crypto.randomUUID();
    this.enviando.set(true);
    this.erroGeral.set(null);
    this.notas.emit(this.body(), this.idempotencyKey).subscribe({
      next: (nota) => void this.router.navigate(['/notas', nota.id]),
      error: (error: ApiError) => {
        this.enviando.set(false);
        const rest = applyFieldErrors(this.form, error);
        this.erroGeral.set(error.errors.length && !rest.length ? 'Corrija os campos indicados.' : [error.message, ...rest].join(' '));
      },
    });
  }
}
