import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormArray, NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { Router } from '@angular/router';

import { ApiError, applyFieldErrors } from '../core/api-error';
import { NotaIn, ProdutoOut } from '../core/api-types';
import { ProdutosApi } from '../produtos/produtos-api';
import { NotasApi } from './notas-api';

@Component({
  selector: 'nfe-emitir-nota',
  imports: [ReactiveFormsModule],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>Emitir nota</h1>
    <form [formGroup]="form" (ngSubmit)="submit()" novalidate class="cartao">
      <fieldset formGroupName="destinatario">
        <legend>Destinatário</legend>
        <label for="documento">CPF ou CNPJ</label>
        <input id="documento" formControlName="documento" aria-describedby="documento-erro" />
        <p id="documento-erro" class="erro-campo">{{ form.get('destinatario.documento')?.errors?.['api'] }}</p>
        <label for="destinatario-nome">Nome do destinatário</label>
        <input id="destinatario-nome" formControlName="nome" aria-describedby="destinatario-nome-erro" />
        <p id="destinatario-nome-erro" class="erro-campo">{{ form.get('destinatario.nome')?.errors?.['api'] }}</p>
      </fieldset>
      <fieldset>
        <legend>Itens</legend>
        <div formArrayName="items">
          @for (item of items.controls; track item; let i = $index) {
            <div class="item" [formGroupName]="i" role="group" [attr.aria-label]="'Item ' + (i + 1)">
              <label [for]="'produto-' + i">Produto do item {{ i + 1 }}</label>
              <select [id]="'produto-' + i" formControlName="produtoId" [attr.aria-describedby]="'produto-' + i + '-erro'">
                <option value="">Escolha um produto</option>
                @for (produto of produtos(); track produto.id) {
                  <option [value]="produto.id">{{ produto.sku }}: {{ produto.nome }} ({{ produto.quantidade }} disponíveis)</option>
                }
              </select>
              <p [id]="'produto-' + i + '-erro'" class="erro-campo">{{ item.get('produtoId')?.errors?.['api'] }}</p>
              <label [for]="'quantidade-' + i">Quantidade do item {{ i + 1 }}</label>
              <input [id]="'quantidade-' + i" type="number" min="1" formControlName="quantidade" [attr.aria-describedby]="'quantidade-' + i + '-erro'" />
              <p [id]="'quantidade-' + i + '-erro'" class="erro-campo">{{ item.get('quantidade')?.errors?.['api'] }}</p>
              <label [for]="'valor-' + i">Valor unitário do item {{ i + 1 }}</label>
              <input [id]="'valor-' + i" inputmode="decimal" formControlName="valorUnitario" [attr.aria-describedby]="'valor-' + i + '-erro'" />
              <p [id]="'valor-' + i + '-erro'" class="erro-campo">{{ item.get('valorUnitario')?.errors?.['api'] }}</p>
              @if (items.length > 1) {
                <button type="button" class="secundario" (click)="removeItem(i)">Remover item {{ i + 1 }}</button>
              }
            </div>
          }
        </div>
        <button type="button" class="secundario" (click)="addItem()">Adicionar item</button>
      </fieldset>
      @if (erro(); as texto) {
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
  protected readonly produtos = signal<ProdutoOut[]>([]);
  protected readonly erro = signal<string | null>(null);
  protected readonly enviando = signal(false);
  protected readonly form = this.fb.group({
    destinatario: this.fb.group({ documento: ['', Validators.required], nome: ['', Validators.required] }),
    items: this.fb.array([this.newItem()]),
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
      error: (error: ApiError) => this.erro.set(error.message),
    });
  }

  protected get items(): FormArray {
    return this.form.controls.items;
  }

  private newItem() {
    return this.fb.group({ produtoId: [''], quantidade: [1], valorUnitario: ['10.00'] });
  }

  addItem(): void {
    this.form.controls.items.push(this.newItem());
  }

  removeItem(index: number): void {
    this.form.controls.items.removeAt(index);
  }

  submit(): void {
    if (this.enviando()) {
      return; // the second click of a double click: the first send is in flight
    }
    this.idempotencyKey ??= crypto.randomUUID();
    const value = this.form.getRawValue();
    const body: NotaIn = {
      destinatario: value.destinatario,
      items: value.items.map((item) => ({ ...item, quantidade: Number(item.quantidade) })),
    };
    this.enviando.set(true);
    this.erro.set(null);
    this.notas.emit(body, this.idempotencyKey).subscribe({
      next: (nota) => void this.router.navigate(['/notas', nota.id]),
      error: (error: ApiError) => {
        this.enviando.set(false);
        const rest = applyFieldErrors(this.form, error);
        this.erro.set(error.errors.length && !rest.length ? 'Corrija os campos indicados.' : [error.message, ...rest].join(' '));
      },
    });
  }
}
