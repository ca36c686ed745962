import { NotaOut } from '../core/api-types';

export interface Passo {
  titulo: string;
  em: string;
  detalhe?: string;
}

/** The saga's steps so far, in the saga's order, from the timestamps the nota carries. */
export function timeline(nota: NotaOut): Passo[] {
  const passos: Passo[] = [{ titulo: 'Emitida (PENDING): reserva de estoque pedida', em: nota.criadaEm, detalhe: nota.criadaPor?.email }];
  if (nota.confirmadaEm) {
    passos.push({ titulo: 'CONFIRMADA: estoque reservado', em: nota.confirmadaEm });
  }
  // The NF-e is numbered and sent in the step that reserves the stock; the API keeps no separate
  // time of the sending, so dhEmi (emitidaEm) stands for it.
  if (nota.chave && (nota.emitidaEm || nota.confirmadaEm)) {
    passos.push({
      titulo: `NF-e nº ${nota.numero}, série ${nota.serie}, enviada à SEFAZ`,
      em: (nota.emitidaEm ?? nota.confirmadaEm) as string,
      detalhe: nota.status === 'CONFIRMADA' ? 'Aguardando a resposta da SEFAZ.' : undefined,
    });
  }
  if (nota.autorizadaEm) {
    passos.push({ titulo: 'AUTORIZADA pela SEFAZ', em: nota.autorizadaEm, detalhe: `Protocolo de autorização ${nota.protocolo ?? ''}` });
  }
  if (nota.sefaz) {
    const { cStat, motivo, respondidaEm } = nota.sefaz;
    const titulo = nota.status === 'DENEGADA' ? 'DENEGADA pela SEFAZ' : 'REJEITADA pela SEFAZ';
    const protocolo = nota.status === 'DENEGADA' && nota.protocolo ? ` (protocolo ${nota.protocolo})` : '';
    passos.push({ titulo, em: respondidaEm, detalhe: `cStat ${cStat}: ${motivo}${protocolo}` });
  }
  if (nota.erro) {
    passos.push({ titulo: 'ERRO_ESTOQUE', em: nota.erro.timestamp, detalhe: `${nota.erro.codigo}: ${nota.erro.mensagem}` });
  }
  // An earlier version cancelled an authorized nota here alone (no event): its steps read as before.
  const semEvento = nota.status === 'CANCELADA' && !nota.cancelamentoProtocolo;
  if (nota.chave && nota.autorizadaEm && !semEvento) {
    passos.push(...passosDoCancelamento(nota));
  } else {
    // A refused nota's stock comes back after SEFAZ's answer.
    if (nota.estoqueLiberadoEm) {
      passos.push({ titulo: 'Estoque liberado: reservas devolvidas', em: nota.estoqueLiberadoEm });
    }
    // A nota from before the NF-e (no chave) is cancelled in this system alone, once its stock is back.
    if (nota.cancelamentoSolicitadoEm) {
      passos.push({ titulo: 'Cancelamento pedido: devolução do estoque', em: nota.cancelamentoSolicitadoEm, detalhe: nota.cancelamentoSolicitadoPor?.email });
    }
    if (nota.canceladaEm) {
      passos.push({ titulo: 'CANCELADA: estoque devolvido', em: nota.canceladaEm });
    }
  }
  return passos;
}

/** What undoes an authorized NF-e once it cannot be cancelled: not built in this system yet. */
export const ESTORNO = 'Só uma NF-e de estorno desfaz a operação, e ela ainda é emitida fora deste sistema.';

/** What SEFAZ's 501 means for the user: the 24 hours are over. */
export const ESTORNO_501 = `O prazo de 24 horas após a autorização terminou: a SEFAZ não aceita mais o cancelamento. ${ESTORNO}`;

/**
 * An authorized NF-e's cancelamento: asked (with its justificativa), then registered by SEFAZ with its
 * protocol and the stock back, or refused with SEFAZ's reason. A refusal clears the request's time
 * (the API keeps only the last answer), so the justificativa goes with the refusal then.
 */
function passosDoCancelamento(nota: NotaOut): Passo[] {
  const passos: Passo[] = [];
  const justificativa = nota.cancelamentoJustificativa ? `Justificativa: “${nota.cancelamentoJustificativa}”` : undefined;
  if (nota.cancelamentoSolicitadoEm) {
    const por = nota.cancelamentoSolicitadoPor?.email;
    passos.push({
      titulo: 'Cancelamento pedido à SEFAZ (evento 110111)',
      em: nota.cancelamentoSolicitadoEm,
      detalhe: [
        justificativa,
        por ? `Pedido por ${por}.` : undefined,
        nota.status === 'AUTORIZADA' ? 'Aguardando o registro da SEFAZ.' : undefined,
      ]
        .filter(Boolean)
        .join(' '),
    });
  }
  if (nota.cancelamentoRecusado) {
    const { cStat, motivo, respondidaEm } = nota.cancelamentoRecusado;
    const oQueFazer = cStat === 501 ? ESTORNO_501 : 'A NF-e continua autorizada; o cancelamento pode ser pedido de novo dentro do prazo.';
    passos.push({
      titulo: 'Cancelamento recusado pela SEFAZ',
      em: respondidaEm,
      detalhe: [`cStat ${cStat}: ${motivo}.`, oQueFazer, justificativa].filter(Boolean).join(' '),
    });
  }
  if (nota.status === 'CANCELADA' && nota.canceladaEm) {
    passos.push({
      titulo: 'CANCELADA: cancelamento registrado pela SEFAZ',
      em: nota.canceladaEm,
      detalhe: `Protocolo do cancelamento ${nota.cancelamentoProtocolo ?? ''}.${nota.estoqueLiberadoEm ? '' : ' Devolvendo o estoque…'}`,
    });
  }
  if (nota.estoqueLiberadoEm) {
    passos.push({ titulo: 'Estoque devolvido: reservas liberadas', em: nota.estoqueLiberadoEm });
  }
  return passos;
}

/**
 * Whether the nota can still change without anyone acting: until then its page keeps reading it.
 * A nota with SEFAZ waits for the answer; a refused one for Estoque to release its stock.
 */
export function emAndamento(nota: NotaOut): boolean {
  switch (nota.status) {
    case 'PENDING':
      return true;
    case 'CONFIRMADA':
      return !!nota.chave || !!nota.cancelamentoSolicitadoEm;
    case 'REJEITADA':
    case 'DENEGADA':
      return !nota.estoqueLiberadoEm;
    case 'AUTORIZADA':
      return !!nota.cancelamentoSolicitadoEm;
    case 'CANCELADA':
      // Cancelled at SEFAZ: Estoque gives the stock back after.
      return !!nota.cancelamentoProtocolo && !nota.estoqueLiberadoEm;
    case 'ERRO_ESTOQUE':
      return false;
  }
}
