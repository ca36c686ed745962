import { StatusNota } from '../core/api-types';

export const STATUS_LABELS: Record<StatusNota, string> = {
  PENDING: 'Pendente',
  CONFIRMADA: 'Confirmada',
  ERRO_ESTOQUE: 'Erro de estoque',
  CANCELADA: 'Cancelada',
};

export const STATUSES = Object.keys(STATUS_LABELS) as StatusNota[];
