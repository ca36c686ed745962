import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, effect, inject, signal } from '@angular/core';
import { FormControl, ReactiveFormsModule } from '@angular/forms';
import { toSignal } from '@angular/core/rxjs-interop';
import { RouterLink } from '@angular/router';

import { AuthService } from '../auth/auth.service';
import { ApiError } from '../core/api-error';
import { NotaOut, StatusNota } from '../core/api-types';
import { CursorPages } from '../core/pagination';
import { NotasApi } from './notas-api';
import { STATUSES, STATUS_LABELS } from './status';

const PAGE_SIZE = 20;

@Component({
  selector: 'nfe-notas-page',
  imports: [ReactiveFormsModule, RouterLink, DatePipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>Notas fiscais</h1>
    @if (auth.canEmitNotas()) {
      <p><a class="botao" routerLink="/notas/nova">Emitir nota</a></p>
    }
    <label for="filtro-status">Status</label>
    <select id="filtro-status" [formControl]="filtro">
      <option value="">Todos</option>
      @for (status of statuses; track status) {
        <option [value]="status">{{ labels[status] }}</option>
      }
    </select>
    @if (erro(); as texto) {
      <p class="erro" role="alert">{{ texto }}</p>
    }
    <table>
      <caption>Notas, página {{ pages.page() }}</caption>
      <thead>
        <tr><th scope="col">Emitida em</th><th scope="col">Destinatário</th><th scope="col">Valor</th><th scope="col">Status</th></tr>
      </thead>
      <tbody>
        @for (nota of notas(); track nota.id) {
          <tr>
            <td><a [routerLink]="['/notas', nota.id]">{{ nota.criadaEm | date: 'short' }}</a></td>
            <td>{{ nota.destinatario.nome }}</td>
            <td>R$ {{ nota.valorTotal }}</td>
            <td>{{ nota.status }}</td>
          </tr>
        } @empty {
          <tr><td colspan="4">Nenhuma nota.</td></tr>
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
  protected readonly pages = new CursorPages();
  protected readonly filtro = new FormControl<StatusNota | ''>('', { nonNullable: true });
  private readonly status = toSignal(this.filtro.valueChanges, { initialValue: '' as StatusNota | '' });
  protected readonly notas = signal<NotaOut[]>([]);
  protected readonly erro = signal<string | null>(null);

  constructor() {
    // A new filter starts again from the first page.
    effect(() => {
      this.status();
      this.pages.reset();
    });
    effect(() => this.load(this.status() || null, this.pages.current()));
  }

  private load(status: StatusNota | null, cursor: string | null): void {
    this.api.list(status, PAGE_SIZE, cursor).subscribe({
      next: (page) => {
        this.notas.set(page.items);
        this.pages.next.set(page.nextCursor);
        this.erro.set(null);
      },
      error: (error: ApiError) => this.erro.set(error.message),
    });
  }
}
