/**
 * The API's bodies, as docs/openapi.json declares them (components.schemas). Each interface is
 * named after its schema and lists exactly its properties, optional where the schema does not
 * require them; tests/test_console_contract.py fails when the two drift apart.
 */

export type StatusNota = 'PENDING' | 'CONFIRMADA' | 'ERRO_ESTOQUE' | 'CANCELADA';

/** dest/indIEDest: 1 contribuinte do ICMS, 2 contribuinte isento de inscrição, 9 não contribuinte. */
export type IndicadorIe = 1 | 2 | 9;

/** tpAmb: homologação (2, no fiscal value) or produção (1). */
export type Ambiente = 'homologacao' | 'producao';

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

export interface Endereco {
  logradouro: string;
  numero: string;
  complemento?: string | null;
  bairro: string;
  uf: string;
  /** IBGE, 7 digits; its first two are the UF's code. */
  codigoMunicipio: string;
  municipio: string;
  cep: string;
}

export interface Destinatario {
  documento: string;
  nome: string;
  endereco: Endereco;
  indicadorIe: IndicadorIe;
  /** Required when indicadorIe is 1; an isento (2) has none. */
  ie?: string | null;
  email?: string | null;
}

export interface DestinatarioOut {
  documento: string;
  nome: string;
  endereco?: Endereco | null;
  indicadorIe?: IndicadorIe | null;
  ie?: string | null;
  email?: string | null;
}

export interface ItemIn {
  produtoId: string;
  quantidade: number;
  valorUnitario: string;
  cfop?: string | null;
}

export interface ItemOut {
  produtoId: string;
  quantidade: number;
  valorUnitario: string;
  cfop?: string | null;
  descricao?: string | null;
  ncm?: string | null;
  unidade?: string | null;
}

export interface NotaIn {
  destinatario: Destinatario;
  naturezaOperacao?: string;
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
  /** nNF, gapless per série; null until the stock is reserved. */
  numero?: number | null;
  serie?: number | null;
  /** The 44-character chave de acesso; null with the número. */
  chave?: string | null;
  ambiente?: Ambiente | null;
  naturezaOperacao?: string;
  emitidaEm?: string | null;
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
  /** NCM, 8 digits. */
  ncm?: string | null;
  /** uCom, 1 to 6 characters (UN, KG, CX). */
  unidade?: string | null;
  /** orig, 0 to 8 (produtos/origens.ts). */
  origem?: number | null;
  /** Omitted for SEM GTIN. */
  gtin?: string | null;
}

export interface ProdutoOut {
  id: string;
  sku: string;
  nome: string;
  quantidade: number;
  /** These four are null on produtos created before the NF-e, which cannot be invoiced. */
  ncm?: string | null;
  unidade?: string | null;
  origem?: number | null;
  gtin?: string | null;
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
  ncm?: string | null;
  unidade?: string | null;
  origem?: number | null;
  gtin?: string | null;
  criadoEm: string;
  criadoPor?: UsuarioOut | null;
  atualizadoEm: string;
  entrada: EntradaOut;
}
