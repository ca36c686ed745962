import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, DestroyRef, ElementRef, computed, effect, inject, input, signal, viewChild } from '@angular/core';
import { RouterLink } from '@angular/router';

import { AuthService } from '../auth/auth.service';
import { ApiError } from '../core/api-error';
import { NotaOut } from '../core/api-types';
import { ProdutosApi } from '../produtos/produtos-api';
import { NotasApi } from './notas-api';
import { STATUS_LABELS } from './status';

const POLL_MS = 1000;

interface Passo {
  titulo: string;
  em: string;
  detalhe?: string;
}

/** The saga's steps so far, oldest first, from the timestamps the nota carries. */
export function timeline(nota: NotaOut): Passo[] {
  const passos: Passo[] = [{ titulo: 'Emitida (PENDING): reserva de estoque pedida', em: nota.criadaEm, detalhe: nota.criadaPor?.email }];
  if (nota.confirmadaEm) {
    passos.push({ titulo: 'CONFIRMADA: estoque reservado', em: nota.confirmadaEm });
  }
  if (nota.erro) {
    passos.push({ titulo: 'ERRO_ESTOQUE', em: nota.erro.timestamp, detalhe: `${nota.erro.codigo}: ${nota.erro.mensagem}` });
  }
  if (nota.cancelamentoSolicitadoEm) {
    passos.push({ titulo: 'Cancelamento pedido: devolução do estoque', em: nota.cancelamentoSolicitadoEm, detalhe: nota.cancelamentoSolicitadoPor?.email });
  }
  if (nota.canceladaEm) {
    passos.push({ titulo: 'CANCELADA: estoque devolvido', em: nota.canceladaEm });
  }
  return passos;
}

function settled(nota: NotaOut): boolean {
  const cancelando = !!nota.cancelamentoSolicitadoEm && nota.status !== 'CANCELADA';
  return nota.status !== 'PENDING' && !cancelando;
}

@Component({
  selector: 'nfe-nota-detalhe',
  imports: [DatePipe, RouterLink],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <p><a routerLink="/notas">Voltar às notas</a></p>
    <h1>Nota fiscal</h1>
    @if (erro(); as texto) {
      <p class="erro" role="alert">{{ texto }}</p>
    }
    @if (nota(); as n) {
      <dl class="ficha">
        <dt>Número</dt><dd>{{ n.id }}</dd>
        <dt>Status</dt><dd><span class="status" role="status" aria-live="polite">{{ n.status }}</span> ({{ labels[n.status] }})</dd>
        <dt>Destinatário</dt><dd>{{ n.destinatario.nome }} ({{ n.destinatario.documento }})</dd>
        <dt>Valor total</dt><dd>R$ {{ n.valorTotal }}</dd>
      </dl>
      <h2>Itens</h2>
      <table>
        <caption>Itens da nota</caption>
        <thead><tr><th scope="col">Produto</th><th scope="col">Quantidade</th><th scope="col">Valor unitário</th></tr></thead>
        <tbody>
          @for (item of n.items; track item.produtoId) {
            <tr><td>{{ produtos()[item.produtoId] ?? item.produtoId }}</td><td>{{ item.quantidade }}</td><td>R$ {{ item.valorUnitario }}</td></tr>
          }
        </tbody>
      </table>
      <h2 id="titulo-linha">Linha do tempo da saga</h2>
      <ol class="linha-do-tempo" aria-labelledby="titulo-linha">
        @for (passo of passos(); track passo.titulo) {
          <li>
            <strong>{{ passo.titulo }}</strong> <time [attr.datetime]="passo.em">{{ passo.em | date: 'medium' }}</time>
            @if (passo.detalhe) {
              <div>{{ passo.detalhe }}</div>
            }
          </li>
        }
      </ol>
      @if (podeCancelar()) {
        <button type="button" class="perigo" (click)="confirmar()">Cancelar nota</button>
      }
    }
    <dialog #confirmacao aria-labelledby="titulo-confirmacao">
      <h2 id="titulo-confirmacao">Cancelar esta nota?</h2>
      <p>O estoque reservado volta a ficar disponível. Isso não pode ser desfeito.</p>
      <button type="button" class="perigo" (click)="cancel()">Sim, cancelar a nota</button>
      <button type="button" class="secundario" (click)="fechar()">Não, manter</button>
    </dialog>
  `,
})
export class NotaDetalhe {
  private readonly api = inject(NotasApi);
  private readonly produtosApi = inject(ProdutosApi);
  private readonly auth = inject(AuthService);
  /** The route's `:id`, bound by withComponentInputBinding. */
  readonly id = input.required<string>();
  protected readonly labels = STATUS_LABELS;
  protected readonly nota = signal<NotaOut | null>(null);
  protected readonly erro = signal<string | null>(null);
  /** Each item's produto as `SKU: nome`, read once per produto. */
  protected readonly produtos = signal<Partial<Record<string, string>>>({});
  protected readonly passos = computed(() => {
    const nota = this.nota();
    return nota ? timeline(nota) : [];
  });
  protected readonly podeCancelar = computed(
    () => this.auth.canEmitNotas() && this.nota()?.status === 'CONFIRMADA' && !this.nota()?.cancelamentoSolicitadoEm,
  );
  private readonly dialog = viewChild.required<ElementRef<HTMLDialogElement>>('confirmacao');
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    effect(() => this.refresh(this.id()));
    inject(DestroyRef).onDestroy(() => clearTimeout(this.timer));
  }

  /** Reads the nota, and again every second until the saga has settled: the timeline updates live. */
  private refresh(id: string): void {
    clearTimeout(this.timer);
    this.api.get(id).subscribe({
      next: (nota) => {
        this.nota.set(nota);
        this.nameProdutos(nota);
        if (!settled(nota)) {
          this.timer = setTimeout(() => this.refresh(id), POLL_MS);
        }
      },
      error: (error: ApiError) => this.erro.set(error.message),
    });
  }

  private nameProdutos(nota: NotaOut): void {
    for (const { produtoId } of nota.items) {
      if (!(produtoId in this.produtos())) {
        this.produtos.update((names) => ({ ...names, [produtoId]: produtoId }));
        this.produtosApi.get(produtoId).subscribe({
          next: (p) => this.produtos.update((names) => ({ ...names, [p.id]: `${p.sku}: ${p.nome}` })),
          error: () => undefined, // the id stays shown
        });
      }
    }
  }

  confirmar(): void {
    this.dialog().nativeElement.showModal();
  }

  fechar(): void {
    this.dialog().nativeElement.close();
  }

  cancel(): void {
    this.fechar();
    this.api.cancel(this.id()).subscribe({
      next: (nota) => {
        this.nota.set(nota);
        this.refresh(nota.id);
      },
      error: (error: ApiError) => this.erro.set(error.message),
    });
  }
}
