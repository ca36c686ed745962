import { DatePipe, formatDate } from '@angular/common';
import {
  ChangeDetectionStrategy,
  Component,
  DestroyRef,
  ElementRef,
  Injector,
  LOCALE_ID,
  afterNextRender,
  computed,
  effect,
  inject,
  input,
  output,
  signal,
  viewChild,
} from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { NonNullableFormBuilder, ReactiveFormsModule } from '@angular/forms';

import { AuthService } from '../auth/auth.service';
import { ApiError, applyFieldErrors } from '../core/api-error';
import { NotaOut } from '../core/api-types';
import { NotasApi } from './notas-api';
import { XJUST_MAX, XJUST_MIN, contagem, justificativaValida } from './justificativa';
import { ESTORNO, ESTORNO_501 } from './timeline';

// The live count is announced once the user pauses typing: at every key it would talk over the typing.
const ANUNCIO_MS = 1000;
// The deadline as a pt-BR reader writes it, in the browser's own time zone.
const FORMATO_PRAZO = "dd/MM/yyyy 'às' HH:mm";

/** A cancelamento asked and not settled yet: with SEFAZ (the API clears the time when SEFAZ refuses it),
 * or, for a nota from before the NF-e, waiting for its stock to come back. */
export function emVoo(nota: NotaOut): boolean {
  return !!nota.cancelamentoSolicitadoEm && (nota.status === 'AUTORIZADA' || (nota.status === 'CONFIRMADA' && !nota.chave));
}

/** SEFAZ's 501: the 24 hours are over by its clock, whatever ours says; asking again is pointless. */
function foraDoPrazoNaSefaz(nota: NotaOut): boolean {
  return nota.cancelamentoRecusado?.cStat === 501;
}

/** Whether the API would take a cancelamento now (`agora` in ms): an AUTORIZADA nota, nothing in flight,
 * within `cancelavelAte`; or a CONFIRMADA one from before the NF-e, cancelled here alone. */
export function cancelavel(nota: NotaOut, agora: number): boolean {
  if (nota.status === 'CONFIRMADA') {
    return !nota.chave && !nota.cancelamentoSolicitadoEm;
  }
  if (nota.status !== 'AUTORIZADA' || emVoo(nota) || foraDoPrazoNaSefaz(nota)) {
    return false;
  }
  return !nota.cancelavelAte || agora < Date.parse(nota.cancelavelAte);
}

/**
 * A nota's cancelamento: the request in flight or SEFAZ's refusal and what to do, the button while the
 * API takes one (or a line saying why not), and the dialog asking for the justificativa (xJust).
 * A registered cancelamento is shown in the nota's record, beside its status.
 */
@Component({
  selector: 'nfe-nota-cancelamento',
  imports: [DatePipe, ReactiveFormsModule],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    @let n = nota();
    @if (visivel()) {
      <section class="cartao" [class]="tom()" aria-labelledby="titulo-cancelamento">
        <!-- Focused after a request is sent: the button the user pressed is gone then. -->
        <h2 id="titulo-cancelamento" tabindex="-1" #titulo>Cancelamento</h2>
        <!-- Live: the request's acceptance, then SEFAZ's refusal, are announced as they arrive (a refusal
             leaves the status as it was, so the status badge says nothing). -->
        <div aria-live="polite">
          @if (emVoo()) {
            @if (n.chave) {
              <p>
                O cancelamento (evento 110111) foi enviado à SEFAZ e aguarda o registro. A nota continua AUTORIZADA até a SEFAZ registrá-lo; depois o
                estoque reservado volta a ficar disponível.
              </p>
            } @else {
              <p>Cancelamento pedido: o estoque reservado está sendo devolvido.</p>
            }
            <dl class="ficha">
              <dt>Justificativa</dt>
              <dd>{{ n.cancelamentoJustificativa }}</dd>
            </dl>
          } @else if (n.status === 'AUTORIZADA' && n.cancelamentoRecusado; as recusa) {
            <p><strong>A SEFAZ recusou o cancelamento: a NF-e continua autorizada.</strong></p>
            <dl class="ficha">
              <dt>Código (cStat)</dt>
              <dd>{{ recusa.cStat }}</dd>
              <dt>Motivo</dt>
              <dd>{{ recusa.motivo }}</dd>
              <dt>Respondida em</dt>
              <dd><time [attr.datetime]="recusa.respondidaEm">{{ recusa.respondidaEm | date: 'medium' }}</time></dd>
              @if (n.cancelamentoJustificativa) {
                <dt>Justificativa</dt>
                <dd>{{ n.cancelamentoJustificativa }}</dd>
              }
            </dl>
            <p>{{ recusa.cStat === 501 ? estorno : 'Corrija o que a SEFAZ apontou e peça o cancelamento de novo, dentro do prazo.' }}</p>
          }
        </div>
        @if (podeCancelar()) {
          @if (n.cancelavelAte) {
            <p>
              A SEFAZ aceita o cancelamento até <time [attr.datetime]="n.cancelavelAte">{{ n.cancelavelAte | date: formatoPrazo }}</time> (24 horas
              após a autorização).
            </p>
          } @else {
            <p>Esta nota é anterior à NF-e: ela é cancelada só neste sistema.</p>
          }
          <button type="button" class="perigo" (click)="abrir()" #botao>Cancelar nota</button>
        } @else if (porQueNao(); as motivo) {
          <p class="dica">{{ motivo }}</p>
        }
      </section>
    }
    <dialog #dialogo aria-labelledby="titulo-confirmacao" aria-describedby="confirmacao-efeito" (close)="aoFechar()">
      <h2 id="titulo-confirmacao">Cancelar esta nota?</h2>
      @if (n.chave) {
        <p id="confirmacao-efeito">
          A SEFAZ registra o cancelamento (evento 110111) com a justificativa abaixo; quando ela o registrar, a nota fica CANCELADA e o estoque
          reservado volta a ficar disponível. Isso não pode ser desfeito.
        </p>
        @if (n.cancelavelAte) {
          <p>
            Prazo: até <strong><time [attr.datetime]="n.cancelavelAte">{{ n.cancelavelAte | date: formatoPrazo }}</time></strong>, 24 horas após a
            autorização. Depois dele a SEFAZ recusa o cancelamento (cStat 501).
          </p>
        }
      } @else {
        <p id="confirmacao-efeito">
          Esta nota é anterior à NF-e: ela é cancelada só neste sistema, e o estoque reservado volta a ficar disponível. Isso não pode ser desfeito.
        </p>
      }
      <form [formGroup]="form" (ngSubmit)="enviar()" novalidate>
        <label for="justificativa">Justificativa do cancelamento</label>
        <textarea
          id="justificativa"
          #campo
          rows="4"
          formControlName="justificativa"
          aria-required="true"
          [attr.aria-invalid]="!!erroCampo()"
          aria-describedby="justificativa-limites justificativa-contagem justificativa-erro"
        ></textarea>
        <p id="justificativa-limites" class="dica">
          De {{ min }} a {{ max }} caracteres, só letras, números e pontuação comuns (sem aspas curvas nem emoji): o motivo vai à SEFAZ no evento.
        </p>
        <p id="justificativa-contagem" class="dica">{{ contagem() }}</p>
        <p id="justificativa-erro" class="erro-campo">{{ erroCampo() }}</p>
        <p class="so-leitor" aria-live="polite">{{ anuncio() }}</p>
        @if (erroGeral(); as texto) {
          <p class="erro" role="alert">{{ texto }}</p>
        }
        <button type="submit" class="perigo" [disabled]="!valida() || enviando()">Sim, cancelar a nota</button>
        <button type="button" class="secundario" (click)="fechar()">Não, manter</button>
      </form>
    </dialog>
  `,
})
export class NotaCancelamento {
  private readonly api = inject(NotasApi);
  private readonly auth = inject(AuthService);
  private readonly locale = inject(LOCALE_ID);
  private readonly injector = inject(Injector);
  readonly nota = input.required<NotaOut>();
  /** The nota as the API answered the request (202), for the page to show and follow. */
  readonly pedido = output<NotaOut>();
  protected readonly min = XJUST_MIN;
  protected readonly max = XJUST_MAX;
  protected readonly estorno = ESTORNO_501;
  protected readonly formatoPrazo = FORMATO_PRAZO;
  protected readonly form = inject(NonNullableFormBuilder).group({ justificativa: ['', justificativaValida] });
  private readonly texto = toSignal(this.form.controls.justificativa.valueChanges, { initialValue: '' });
  private readonly status = toSignal(this.form.statusChanges, { initialValue: this.form.status });
  protected readonly valida = computed(() => this.status() === 'VALID');
  protected readonly contagem = computed(() => contagem(this.texto()));
  protected readonly anuncio = signal('');
  protected readonly enviando = signal(false);
  protected readonly erroGeral = signal<string | null>(null);
  /** Moves on when `cancelavelAte` passes, so that the button goes without a reload. */
  private readonly agora = signal(Date.now());
  protected readonly emVoo = computed(() => emVoo(this.nota()));
  protected readonly podeCancelar = computed(() => this.auth.canEmitNotas() && cancelavel(this.nota(), this.agora()));
  protected readonly porQueNao = computed(() => (this.auth.canEmitNotas() ? this.motivoSemBotao(this.nota(), this.agora()) : null));
  /** Anyone may read what happened to a cancelamento; only those who may cancel see the button's place. */
  protected readonly visivel = computed(() => {
    const n = this.nota();
    return this.emVoo() || (n.status === 'AUTORIZADA' && !!n.cancelamentoRecusado) || this.podeCancelar() || !!this.porQueNao();
  });
  protected readonly tom = computed(() => {
    const n = this.nota();
    if (this.emVoo()) {
      return 'sefaz tom-andamento';
    }
    return n.status === 'AUTORIZADA' && n.cancelamentoRecusado ? 'sefaz tom-falha' : '';
  });
  private readonly dialogo = viewChild.required<ElementRef<HTMLDialogElement>>('dialogo');
  private readonly campo = viewChild.required<ElementRef<HTMLTextAreaElement>>('campo');
  private readonly titulo = viewChild<ElementRef<HTMLElement>>('titulo');
  private readonly botao = viewChild<ElementRef<HTMLButtonElement>>('botao');
  private prazo: ReturnType<typeof setTimeout> | undefined;
  private pausa: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    effect(() => {
      clearTimeout(this.prazo);
      const ate = this.nota().cancelavelAte;
      const falta = ate ? Date.parse(ate) - Date.now() : NaN;
      // setTimeout takes at most 2^31-1 ms (24.8 days); the deadline is 24 h after the authorization.
      if (falta > 0 && falta < 2 ** 31) {
        this.prazo = setTimeout(() => this.agora.set(Date.now()), falta + 1);
      }
    });
    this.form.controls.justificativa.valueChanges.subscribe((texto) => {
      clearTimeout(this.pausa);
      this.pausa = setTimeout(() => this.anuncio.set(contagem(texto)), ANUNCIO_MS);
    });
    inject(DestroyRef).onDestroy(() => {
      clearTimeout(this.prazo);
      clearTimeout(this.pausa);
    });
  }

  /** Why no button, for one who may cancel; null when there is nothing to explain. */
  private motivoSemBotao(nota: NotaOut, agora: number): string | null {
    if (nota.status === 'CONFIRMADA' && nota.chave) {
      return 'O cancelamento fica disponível quando a SEFAZ autorizar a nota.';
    }
    if (nota.status !== 'AUTORIZADA' || emVoo(nota) || cancelavel(nota, agora)) {
      return null; // in flight: the card above says so
    }
    if (foraDoPrazoNaSefaz(nota)) {
      return 'Esta nota não pode mais ser cancelada: a SEFAZ recusou o cancelamento fora do prazo (cStat 501).';
    }
    const ate = formatDate(nota.cancelavelAte ?? agora, FORMATO_PRAZO, this.locale);
    return `O prazo de cancelamento terminou em ${ate} (24 horas após a autorização): a SEFAZ não aceita mais o cancelamento. ${ESTORNO}`;
  }

  /** The API's message for the field (422), else what the check here finds beyond the count. */
  protected erroCampo(): string {
    this.status(); // re-read when the control's errors change
    const erros = this.form.controls.justificativa.errors;
    if (erros?.['api']) {
      return erros['api'] as string;
    }
    const recusados = erros?.['caracteres'] as string[] | undefined;
    return recusados ? `A SEFAZ não aceita: ${recusados.join(' ')}` : '';
  }

  abrir(): void {
    this.erroGeral.set(null);
    this.dialogo().nativeElement.showModal();
    this.campo().nativeElement.focus();
  }

  fechar(): void {
    this.dialogo().nativeElement.close();
  }

  /** Escape or "Não, manter": back to the button that opened the dialog. */
  protected aoFechar(): void {
    this.botao()?.nativeElement.focus();
  }

  enviar(): void {
    if (!this.valida() || this.enviando()) {
      return;
    }
    this.enviando.set(true);
    this.erroGeral.set(null);
    this.api.cancel(this.nota().id, { justificativa: this.form.getRawValue().justificativa }).subscribe({
      next: (nota) => {
        this.enviando.set(false);
        this.form.reset();
        this.fechar();
        this.pedido.emit(nota);
        // The button is gone once the nota says a request is in flight: the section's heading takes the focus.
        afterNextRender(() => this.titulo()?.nativeElement.focus(), { injector: this.injector });
      },
      error: (error: ApiError) => {
        this.enviando.set(false);
        const rest = applyFieldErrors(this.form, error);
        if (error.errors.length && !rest.length) {
          this.campo().nativeElement.focus();
        } else {
          // Inside the dialog: a modal dialog makes the rest of the page inert, its alerts unheard.
          this.erroGeral.set([error.message, ...rest].join(' '));
        }
      },
    });
  }
}
