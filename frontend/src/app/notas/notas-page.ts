import { CurrencyPipe, DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, effect, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { NonNullableFormBuilder, ReactiveFormsModule } from '@angular/forms';
import { RouterLink } from '@angular/router';
import { Subscription, debounceTime, map } from 'rxjs';

import { AuthService } from '../auth/auth.service';
import { ApiError } from '../core/api-error';
import { NotaOut, StatusNota } from '../core/api-types';
import { DocumentoPipe } from '../core/fiscal-format';
import { CursorPages } from '../core/pagination';
import { FiltroNotas, NotasApi } from './notas-api';
import { STATUSES, STATUS_LABELS, STATUS_TOM, rotuloStatus } from './status';

const PAGE_SIZE = 20;
// Typing a número asks the API once the user pauses, not at every digit.
const FILTER_DEBOUNCE_MS = 300;

/** A number field's value, or null when blank (the filter is then not sent). */
function inteiro(valor: string | number | null): number | null {
  return valor === null || valor === '' ? null : Number(valor);
}

@Component({
  selector: 'nfe-notas-page',
  imports: [ReactiveFormsModule, RouterLink, DatePipe, CurrencyPipe, DocumentoPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>Notas fiscais</h1>
    @if (auth.canEmitNotas()) {
      <p><a class="botao" routerLink="/notas/nova">Emitir nota</a></p>
    }
    <form role="search" aria-label="Filtrar notas" class="filtros" [formGroup]="filtros">
      <div>
        <label for="filtro-status">Status</label>
        <select id="filtro-status" formControlName="status">
          <option value="">Todos</option>
          @for (status of statuses; track status) {
            <option [value]="status">{{ labels[status] }}</option>
          }
        </select>
      </div>
      <div>
        <label for="filtro-serie">Série</label>
        <input id="filtro-serie" type="number" min="0" formControlName="serie" />
      </div>
      <div>
        <label for="filtro-numero-de">Número de</label>
        <input id="filtro-numero-de" type="number" min="1" formControlName="numeroDe" />
      </div>
      <div>
        <label for="filtro-numero-ate">Número até</label>
        <input id="filtro-numero-ate" type="number" min="1" formControlName="numeroAte" />
      </div>
    </form>
    @if (erro(); as texto) {
      <p class="erro" role="alert">{{ texto }}</p>
    }
    <table>
      <caption>Notas, página {{ pages.page() }}</caption>
      <thead>
        <tr>
          <th scope="col">Número</th>
          <th scope="col">Série</th>
          <th scope="col">Emitida em</th>
          <th scope="col">Destinatário</th>
          <th scope="col">Valor</th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody>
        @for (nota of notas(); track nota.id) {
          <tr>
            <td>
              <a [routerLink]="['/notas', nota.id]">{{ nota.numero ?? 'Sem número' }}</a>
            </td>
            <td>{{ nota.serie ?? '' }}</td>
            <td>{{ nota.emitidaEm ?? nota.criadaEm | date: 'short' }}</td>
            <td>{{ nota.destinatario.nome }} ({{ nota.destinatario.documento | documento }})</td>
            <td>{{ nota.valorTotal | currency: 'BRL' }}</td>
            <td><span [class]="'selo tom-' + tons[nota.status]">{{ rotulo(nota) }}</span></td>
          </tr>
        } @empty {
          <tr><td colspan="6">Nenhuma nota.</td></tr>
        }
      </tbody>
    </table>
    <nav class="paginas" aria-label="Páginas de notas">
      <button type="button" (click)="pages.back()" [disabled]="!pages.hasPrevious()">Página anterior</button>
      <button type="button" (click)="pages.forward()" [disabled]="!pages.next()">Próxima página</button>
    </nav>
  `,
})
export class NotasPage {
  private readonly api = inject(NotasApi);
  protected readonly auth = inject(AuthService);
  protected readonly statuses = STATUSES;
  protected readonly labels = STATUS_LABELS;
  protected readonly tons = STATUS_TOM;
  protected readonly rotulo = rotuloStatus;
  protected readonly pages = new CursorPages();
  protected readonly filtros = inject(NonNullableFormBuilder).group({
    status: ['' as StatusNota | ''],
    serie: [null as number | null],
    numeroDe: [null as number | null],
    numeroAte: [null as number | null],
  });
  private readonly filtro = toSignal(
    this.filtros.valueChanges.pipe(
      debounceTime(FILTER_DEBOUNCE_MS),
      map((): FiltroNotas => {
        const value = this.filtros.getRawValue();
        return {
          status: value.status || null,
          serie: inteiro(value.serie),
          numeroDe: inteiro(value.numeroDe),
          numeroAte: inteiro(value.numeroAte),
        };
      }),
    ),
    { initialValue: { status: null, serie: null, numeroDe: null, numeroAte: null } as FiltroNotas, equal: sameFilter },
  );
  protected readonly notas = signal<NotaOut[]>([]);
  protected readonly erro = signal<string | null>(null);
  private loading: Subscription | undefined;

  constructor() {
    // A new filter starts again from the first page.
    effect(() => {
      this.filtro();
      this.pages.reset();
    });
    effect(() => this.load(this.filtro(), this.pages.current()));
  }

  private load(filtro: FiltroNotas, cursor: string | null): void {
    // Only the latest filter's answer may fill the table: an earlier one still in flight is dropped.
    this.loading?.unsubscribe();
    this.loading = this.api.list(filtro, PAGE_SIZE, cursor).subscribe({
      next: (page) => {
        this.notas.set(page.items);
        this.pages.next.set(page.nextCursor);
        this.erro.set(null);
      },
      error: (error: ApiError) => this.erro.set(error.message),
    });
  }
}

function sameFilter(a: FiltroNotas, b: FiltroNotas): boolean {
  return a.status === b.status && a.serie === b.serie && a.numeroDe === b.numeroDe && a.numeroAte === b.numeroAte;
}
