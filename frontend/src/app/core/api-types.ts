/**
 * The API's bodies, as docs/openapi.json declares them (components.schemas). Each interface is
 * named after its schema and lists exactly its properties, optional where the schema does not
 * require them; tests/test_console_contract.py fails when the two drift apart.
 */

export type StatusNota = 'PENDING' | 'CONFIRMADA' | 'ERRO_ESTOQUE' | 'CANCELADA';

export interface FieldError {
  field: string;
  in: string;
  message: string;
  type: string;
}

export interface ErrorBody {
  message: string;
  errors?: FieldError[];
}

export interface UsuarioOut {
  sub: string;
  email: string;
}

export interface DestinatarioIn {
  documento: string;
  nome: string;
}

export interface DestinatarioOut {
  documento: string;
  nome: string;
}

export interface ItemIn {
  produtoId: string;
  quantidade: number;
  valorUnitario: string;
}

export interface ItemOut {
  produtoId: string;
  quantidade: number;
  valorUnitario: string;
}

export interface NotaIn {
  destinatario: DestinatarioIn;
  items: ItemIn[];
}

export interface ErroNota {
  codigo: string;
  mensagem: string;
  timestamp: string;
}

export interface NotaOut {
  id: string;
  status: StatusNota;
  destinatario: DestinatarioOut;
  items: ItemOut[];
  valorTotal: string;
  criadaEm: string;
  criadaPor?: UsuarioOut | null;
  confirmadaEm?: string | null;
  cancelamentoSolicitadoEm?: string | null;
  cancelamentoSolicitadoPor?: UsuarioOut | null;
  canceladaEm?: string | null;
  erro?: ErroNota | null;
}

export interface PaginaNotas {
  items: NotaOut[];
  nextCursor: string | null;
}

export interface ProdutoIn {
  sku: string;
  nome: string;
  quantidade: number;
}

export interface ProdutoOut {
  id: string;
  sku: string;
  nome: string;
  quantidade: number;
  criadoEm: string;
  criadoPor?: UsuarioOut | null;
  atualizadoEm: string;
}

export interface PaginaProdutos {
  items: ProdutoOut[];
  nextCursor: string | null;
}

export interface EntradaIn {
  quantidade: number;
}

export interface EntradaOut {
  id: string;
  quantidade: number;
  registradaEm: string;
  registradaPor: UsuarioOut | null;
}

export interface EntradaRegistrada {
  id: string;
  sku: string;
  nome: string;
  quantidade: number;
  criadoEm: string;
  criadoPor?: UsuarioOut | null;
  atualizadoEm: string;
  entrada: EntradaOut;
}
