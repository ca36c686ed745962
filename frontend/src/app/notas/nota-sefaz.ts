import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, input } from '@angular/core';

import { NotaOut } from '../core/api-types';

/**
 * A nota with SEFAZ or refused by it: waiting for the answer, or SEFAZ's code and reason and what
 * becomes of the número. (An authorized nota's protocol is in the nota's record, beside its status.)
 */
@Component({
  selector: 'nfe-nota-sefaz',
  imports: [DatePipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    @let n = nota();
    @if (n.sefaz; as resposta) {
      <section class="cartao sefaz tom-falha" aria-labelledby="titulo-sefaz">
        <h2 id="titulo-sefaz">Resposta da SEFAZ</h2>
        <p>
          <strong>{{ n.status === 'DENEGADA' ? 'Uso denegado pela SEFAZ.' : 'Rejeitada pela SEFAZ.' }}</strong>
          <!-- What becomes of the número: SEFAZ keeps a denied NF-e, never a rejected one. -->
          @if (n.status === 'DENEGADA') {
            A denegação consome o número {{ n.numero }}: ele não pode ser usado de novo, e a mercadoria não pode circular com esta nota.
          } @else {
            A SEFAZ não guardou esta NF-e: o número {{ n.numero }} aguarda inutilização, e uma nota corrigida recebe outro número.
          }
        </p>
        <dl class="ficha">
          <dt>Código (cStat)</dt>
          <dd>{{ resposta.cStat }}</dd>
          <dt>Motivo</dt>
          <dd>{{ resposta.motivo }}</dd>
          <dt>Respondida em</dt>
          <dd><time [attr.datetime]="resposta.respondidaEm">{{ resposta.respondidaEm | date: 'medium' }}</time></dd>
          <dt>Estoque</dt>
          <dd>{{ n.estoqueLiberadoEm ? 'Reservas devolvidas ao estoque.' : 'Devolvendo as reservas ao estoque…' }}</dd>
        </dl>
      </section>
    } @else {
      <section class="cartao sefaz tom-andamento" aria-labelledby="titulo-sefaz">
        <h2 id="titulo-sefaz">Autorização da SEFAZ</h2>
        <p>A NF-e nº {{ n.numero }} foi enviada à SEFAZ e aguarda a autorização.</p>
      </section>
    }
  `,
})
export class NotaSefaz {
  /** A nota with SEFAZ (CONFIRMADA with a chave) or refused by it (with `sefaz`). */
  readonly nota = input.required<NotaOut>();
}
