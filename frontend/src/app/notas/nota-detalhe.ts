import { CurrencyPipe, DatePipe, DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, DestroyRef, computed, effect, inject, input, signal } from '@angular/core';
import { RouterLink } from '@angular/router';

import { ApiError } from '../core/api-error';
import { NotaOut } from '../core/api-types';
import { CepPipe, ChavePipe, DocumentoPipe } from '../core/fiscal-format';
import { saveFile } from '../core/save-file';
import { ProdutosApi } from '../produtos/produtos-api';
import { NotaCancelamento } from './cancelamento';
import { INDICADOR_IE_ROTULO } from './destinatario';
import { Documento, documentos } from './documentos';
import { NotaSefaz } from './nota-sefaz';
import { NotasApi } from './notas-api';
import { STATUS_TOM, rotuloStatus } from './status';
import { emAndamento, timeline } from './timeline';

// Every second while the saga runs its eager path (about a second to AUTORIZADA), then less often:
// a nota can wait minutes or hours for a SEFAZ that is down, and an open page need not ask each second.
const POLL_MS = 1000;
const FAST_POLLS = 30;
const SLOW_POLL_MS = 10_000;

@Component({
  selector: 'nfe-nota-detalhe',
  imports: [DatePipe, CurrencyPipe, DecimalPipe, RouterLink, ChavePipe, DocumentoPipe, CepPipe, NotaSefaz, NotaCancelamento],
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
        <dd><span [class]="'selo tom-' + tons[n.status]" role="status" aria-live="polite">{{ n.status }}</span> ({{ rotulo(n) }})</dd>
        <!-- Beside the status: the protocol is what proves the NF-e valid (or denied). -->
        @if (n.protocolo) {
          <dt>{{ n.status === 'DENEGADA' ? 'Protocolo da denegação' : 'Protocolo de autorização' }}</dt>
          <dd class="protocolo">{{ n.protocolo }}</dd>
        }
        @if (n.autorizadaEm) {
          <dt>Autorizada em</dt>
          <dd><time [attr.datetime]="n.autorizadaEm">{{ n.autorizadaEm | date: 'medium' }}</time></dd>
        }
        <!-- SEFAZ's registration of the cancelamento is what makes the NF-e void: its protocol proves it. -->
        @if (n.status === 'CANCELADA' && n.cancelamentoProtocolo) {
          <dt>Protocolo do cancelamento</dt>
          <dd class="protocolo">{{ n.cancelamentoProtocolo }}</dd>
          @if (n.canceladaEm) {
            <dt>Cancelada em</dt>
            <dd><time [attr.datetime]="n.canceladaEm">{{ n.canceladaEm | date: 'medium' }}</time></dd>
          }
          @if (n.cancelamentoJustificativa) {
            <dt>Justificativa do cancelamento</dt>
            <dd>{{ n.cancelamentoJustificativa }}</dd>
          }
        }
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
      @if (n.sefaz || (n.status === 'CONFIRMADA' && n.chave)) {
        <nfe-nota-sefaz [nota]="n" />
      }
      <nfe-nota-cancelamento [nota]="n" (pedido)="aoPedirCancelamento($event)" />
      <!-- Always in the page, so that screen readers announce what is written into it. -->
      <p class="sucesso" aria-live="polite">{{ aviso() }}</p>
      @if (docs(); as d) {
        <section aria-labelledby="titulo-documentos">
          <h2 id="titulo-documentos">Documentos fiscais</h2>
          @if (d.dica) {
            <p class="dica">{{ d.dica }}</p>
          }
          <div class="acoes">
            <!-- Not disabled while a download runs: a disabled button would drop the keyboard focus. -->
            <button type="button" (click)="baixar('xml')" [attr.aria-busy]="baixando() === 'xml'">{{ d.xml.rotulo }}</button>
            @if (d.danfe; as danfe) {
              <button type="button" (click)="baixar('danfe')" [attr.aria-busy]="baixando() === 'danfe'">{{ danfe.rotulo }}</button>
            }
            @if (d.evento; as evento) {
              <button type="button" (click)="baixar('evento')" [attr.aria-busy]="baixando() === 'evento'">{{ evento.rotulo }}</button>
            }
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
        @for (passo of passos(); track $index) {
          <li>
            <strong>{{ passo.titulo }}</strong> <time [attr.datetime]="passo.em">{{ passo.em | date: 'medium' }}</time>
            @if (passo.detalhe) {
              <div>{{ passo.detalhe }}</div>
            }
          </li>
        }
      </ol>
    }
  `,
})
export class NotaDetalhe {
  private readonly api = inject(NotasApi);
  private readonly produtosApi = inject(ProdutosApi);
  /** The route's `:id`, bound by withComponentInputBinding. */
  readonly id = input.required<string>();
  protected readonly tons = STATUS_TOM;
  protected readonly rotulo = rotuloStatus;
  protected readonly indicadoresIe = INDICADOR_IE_ROTULO;
  /** A short confirmation (chave copied, file saved), announced politely. */
  protected readonly aviso = signal<string | null>(null);
  protected readonly baixando = signal<Documento | null>(null);
  protected readonly nota = signal<NotaOut | null>(null);
  protected readonly erro = signal<string | null>(null);
  /** Each item's produto as `SKU: nome`, read once per produto. */
  protected readonly produtos = signal<Partial<Record<string, string>>>({});
  protected readonly passos = computed(() => {
    const nota = this.nota();
    return nota ? timeline(nota) : [];
  });
  protected readonly docs = computed(() => {
    const nota = this.nota();
    return nota ? documentos(nota) : null;
  });
  private timer: ReturnType<typeof setTimeout> | undefined;
  private polls = 0;

  constructor() {
    effect(() => {
      this.polls = 0;
      this.refresh(this.id());
    });
    inject(DestroyRef).onDestroy(() => clearTimeout(this.timer));
  }

  /** Reads the nota, and again until the saga has settled: the timeline updates live. */
  private refresh(id: string): void {
    clearTimeout(this.timer);
    this.api.get(id).subscribe({
      next: (nota) => {
        this.nota.set(nota);
        this.nameProdutos(nota);
        if (emAndamento(nota)) {
          this.timer = setTimeout(() => this.refresh(id), this.polls++ < FAST_POLLS ? POLL_MS : SLOW_POLL_MS);
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

  /** Fetches the document with the user's token and saves it under the name `documentos` gives it. */
  baixar(tipo: Documento): void {
    const nota = this.nota();
    const documento = nota ? documentos(nota)?.[tipo] : undefined;
    if (!nota || !documento || this.baixando()) {
      return;
    }
    const pedido =
      tipo === 'xml' ? this.api.xml(nota.id) : tipo === 'danfe' ? this.api.danfe(nota.id) : this.api.eventoCancelamento(nota.id);
    const arquivo = documento.arquivo;
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

  /** The API took the cancelamento (202): show the nota as it answered, and follow it until SEFAZ answers
   * (the cancelamento's section announces both). */
  aoPedirCancelamento(nota: NotaOut): void {
    this.nota.set(nota);
    this.polls = 0;
    this.refresh(nota.id);
  }
}
