/**
 * The API's bodies, as docs/openapi.json declares them (components.schemas). Each interface is
 * named after its schema and lists exactly its properties, optional where the schema does not
 * require them; tests/test_console_contract.py fails when the two drift apart.
 */

/** CONFIRMADA: stock reserved and the NF-e numbered, now with SEFAZ until it answers (AUTORIZADA,
 * REJEITADA or DENEGADA). */
export type StatusNota = 'PENDING' | 'CONFIRMADA' | 'ERRO_ESTOQUE' | 'AUTORIZADA' | 'REJEITADA' | 'DENEGADA' | 'CANCELADA';

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

/** SEFAZ's answer when it refused the NF-e (REJEITADA, DENEGADA), or refused its cancelamento. */
export interface RespostaSefaz {
  cStat: number;
  /** xMotivo, as SEFAZ wrote it. */
  motivo: string;
  respondidaEm: string;
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
  /** nProt, 15 digits: of the authorization (AUTORIZADA) or of the denial (DENEGADA). */
  protocolo?: string | null;
  /** dhRecbto of the authorization. */
  autorizadaEm?: string | null;
  sefaz?: RespostaSefaz | null;
  /** When Estoque gave back the stock of a nota SEFAZ refused or cancelled. */
  estoqueLiberadoEm?: string | null;
  /** Until when SEFAZ accepts the cancelamento (24 h after the authorization); only while AUTORIZADA. */
  cancelavelAte?: string | null;
  /** xJust of the cancelamento asked, as the API normalized it; kept after a refusal. */
  cancelamentoJustificativa?: string | null;
  /** nProt of SEFAZ's cancelamento event (110111), once registered. */
  cancelamentoProtocolo?: string | null;
  /** Why SEFAZ refused the last cancelamento asked; the nota stays AUTORIZADA. */
  cancelamentoRecusado?: RespostaSefaz | null;
}

/** The cancelamento's request: xJust, 15-255 characters (notas/justificativa.ts checks it as the API does). */
export interface CancelamentoIn {
  justificativa: string;
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
