import { NotaOut, StatusNota } from '../core/api-types';

// In the saga's order, which is also the order of the list's status filter.
export const STATUS_LABELS: Record<StatusNota, string> = {
  PENDING: 'Pendente',
  // Stock reserved and the NF-e numbered: what the user waits for now is SEFAZ's answer.
  CONFIRMADA: 'Aguardando SEFAZ',
  AUTORIZADA: 'Autorizada',
  REJEITADA: 'Rejeitada pela SEFAZ',
  DENEGADA: 'Denegada',
  ERRO_ESTOQUE: 'Erro de estoque',
  CANCELADA: 'Cancelada',
};

export const STATUSES = Object.keys(STATUS_LABELS) as StatusNota[];

/** The badge's colour family; the label always says the status too, so colour is never the only cue. */
export type Tom = 'andamento' | 'ok' | 'falha' | 'neutro';

export const STATUS_TOM: Record<StatusNota, Tom> = {
  PENDING: 'andamento',
  CONFIRMADA: 'andamento',
  AUTORIZADA: 'ok',
  REJEITADA: 'falha',
  DENEGADA: 'falha',
  ERRO_ESTOQUE: 'falha',
  CANCELADA: 'neutro',
};

/** A CONFIRMADA nota without chave was confirmed before the NF-e existed: it never goes to SEFAZ. */
export function anteriorANfe(nota: NotaOut): boolean {
  return nota.status === 'CONFIRMADA' && !nota.chave;
}

/** The status as the user reads it: a nota from before the NF-e is not waiting for SEFAZ. */
export function rotuloStatus(nota: NotaOut): string {
  return anteriorANfe(nota) ? 'Confirmada (anterior à NF-e)' : STATUS_LABELS[nota.status];
}
