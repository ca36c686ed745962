import { CurrencyPipe, DatePipe, DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, DestroyRef, ElementRef, computed, effect, inject, input, signal, viewChild } from '@angular/core';
import { RouterLink } from '@angular/router';

import { AuthService } from '../auth/auth.service';
import { ApiError } from '../core/api-error';
import { NotaOut } from '../core/api-types';
import { CepPipe, ChavePipe, DocumentoPipe } from '../core/fiscal-format';
import { saveFile } from '../core/save-file';
import { ProdutosApi } from '../produtos/produtos-api';
import { INDICADOR_IE_ROTULO } from './destinatario';
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
  imports: [DatePipe, CurrencyPipe, DecimalPipe, RouterLink, ChavePipe, DocumentoPipe, CepPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <p><a routerLink="/notas">Voltar às notas</a></p>
    <h1>Nota fiscal</h1>
    @if (erro(); as texto) {
      <p class="erro" role="alert">{{ texto }}</p>
    }
    @if (nota(); as n) {
      <dl class="ficha">
        <dt>Número</dt>
        <dd>{{ n.numero ?? semNumero(n) }}</dd>
        <dt>Série</dt>
        <dd>{{ n.serie ?? '' }}</dd>
        <dt>Status</dt>
        <dd><span class="status" role="status" aria-live="polite">{{ n.status }}</span> ({{ labels[n.status] }})</dd>
        @if (n.chave; as chave) {
          <dt>Chave de acesso</dt>
          <dd>
            <span class="chave">{{ chave | chave }}</span>
            <button type="button" class="secundario compacto" (click)="copiarChave(chave)">Copiar chave</button>
          </dd>
        }
        @if (n.ambiente) {
          <dt>Ambiente</dt>
          <dd>{{ n.ambiente === 'producao' ? 'Produção' : 'Homologação (sem valor fiscal)' }}</dd>
        }
        @if (n.emitidaEm) {
          <dt>Emitida em</dt>
          <dd><time [attr.datetime]="n.emitidaEm">{{ n.emitidaEm | date: 'medium' }}</time></dd>
        }
        @if (n.naturezaOperacao) {
          <dt>Natureza da operação</dt>
          <dd>{{ n.naturezaOperacao }}</dd>
        }
        <dt>Destinatário</dt>
        <dd>{{ n.destinatario.nome }} ({{ n.destinatario.documento | documento }})</dd>
        @if (n.destinatario.endereco; as e) {
          <dt>Endereço</dt>
          <dd>
            {{ e.logradouro }}, {{ e.numero }}{{ e.complemento ? ', ' + e.complemento : '' }}, {{ e.bairro }}, {{ e.municipio }}/{{ e.uf }}, CEP
            {{ e.cep | cep }}
          </dd>
        }
        @if (n.destinatario.indicadorIe; as indicador) {
          <dt>Inscrição estadual</dt>
          <dd>{{ n.destinatario.ie ? n.destinatario.ie + ' ' : '' }}({{ indicadoresIe[indicador] }})</dd>
        }
        @if (n.destinatario.email) {
          <dt>E-mail</dt>
          <dd>{{ n.destinatario.email }}</dd>
        }
        <dt>Valor total</dt>
        <dd>{{ n.valorTotal | currency: 'BRL' }}</dd>
      </dl>
      <!-- Always in the page, so that screen readers announce what is written into it. -->
      <p class="sucesso" aria-live="polite">{{ aviso() }}</p>
      @if (n.chave) {
        <section aria-labelledby="titulo-documentos">
          <h2 id="titulo-documentos">Documentos fiscais</h2>
          <p class="dica">A NF-e ainda não foi transmitida à SEFAZ: o DANFE é uma prévia, sem valor fiscal.</p>
          <div class="acoes">
            <!-- Not disabled while a download runs: a disabled button would drop the keyboard focus. -->
            <button type="button" (click)="baixar('xml')" [attr.aria-busy]="baixando() === 'xml'">Baixar XML</button>
            <button type="button" (click)="baixar('danfe')" [attr.aria-busy]="baixando() === 'danfe'">Baixar DANFE</button>
          </div>
        </section>
      }
      <h2>Itens</h2>
      <table>
        <caption>Itens da nota</caption>
        <thead>
          <tr>
            <th scope="col">Produto</th>
            <th scope="col">NCM</th>
            <th scope="col">CFOP</th>
            <th scope="col">Unidade</th>
            <th scope="col">Quantidade</th>
            <th scope="col">Valor unitário</th>
          </tr>
        </thead>
        <tbody>
          @for (item of n.items; track item.produtoId) {
            <tr>
              <td>{{ item.descricao ?? produtos()[item.produtoId] ?? item.produtoId }}</td>
              <td>{{ item.ncm ?? '' }}</td>
              <td>{{ item.cfop ?? '' }}</td>
              <td>{{ item.unidade ?? '' }}</td>
              <td>{{ item.quantidade | number }}</td>
              <td>{{ item.valorUnitario | currency: 'BRL' }}</td>
            </tr>
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
  protected readonly indicadoresIe = INDICADOR_IE_ROTULO;
  /** A short confirmation (chave copied, file saved), announced politely. */
  protected readonly aviso = signal<string | null>(null);
  protected readonly baixando = signal<'xml' | 'danfe' | null>(null);
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

  protected semNumero(nota: NotaOut): string {
    return nota.status === 'PENDING' ? 'ainda sem número (dado quando o estoque é reservado)' : 'sem número';
  }

  async copiarChave(chave: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(chave);
      this.aviso.set('Chave copiada.');
    } catch {
      // No clipboard outside a secure context, or permission refused: the chave stays selectable.
      this.aviso.set('Não foi possível copiar a chave: selecione-a e copie.');
    }
  }

  /** Fetches the document with the user's token and saves it as `NFe<chave>.xml` or `NFe<chave>-danfe.pdf`. */
  baixar(tipo: 'xml' | 'danfe'): void {
    const nota = this.nota();
    if (!nota?.chave || this.baixando()) {
      return;
    }
    const [pedido, arquivo] =
      tipo === 'xml' ? [this.api.xml(nota.id), `NFe${nota.chave}.xml`] : [this.api.danfe(nota.id), `NFe${nota.chave}-danfe.pdf`];
    this.baixando.set(tipo);
    this.erro.set(null);
    pedido.subscribe({
      next: (blob) => {
        this.baixando.set(null);
        saveFile(blob, arquivo);
        this.aviso.set(`${arquivo} baixado.`);
      },
      error: (error: ApiError) => {
        this.baixando.set(null);
        this.erro.set(error.message);
      },
    });
  }

  private nameProdutos(nota: NotaOut): void {
    for (const { produtoId, descricao } of nota.items) {
      // The description travels with the nota once its stock is reserved; before that, ask Estoque.
      if (!descricao && !(produtoId in this.produtos())) {
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
