import { NotaOut } from '../core/api-types';

export type Documento = 'xml' | 'danfe' | 'evento';

/** The downloads a nota offers, by what the API serves for it: their button names and file names. */
export interface Documentos {
  dica?: string;
  xml: { rotulo: string; arquivo: string };
  danfe?: { rotulo: string; arquivo: string };
  /** The cancelamento's procEventoNFe, once SEFAZ registered it. */
  evento?: { rotulo: string; arquivo: string };
}

/** The name the API gives the procEventoNFe: the event's Id (ID + tpEvento 110111 + chave + nSeqEvento
 * 01, the one cancelamento an NF-e can have), as in its Content-Disposition. */
export function arquivoEventoCancelamento(chave: string): string {
  return `ID110111${chave}01-procEventoNFe.xml`;
}

/** What the nota's page offers to download; null before the NF-e exists (no chave). */
export function documentos(nota: NotaOut): Documentos | null {
  const chave = nota.chave;
  if (!chave) {
    return null;
  }
  // After SEFAZ's answer the API serves the nfeProc (the signed NF-e with SEFAZ's protocol).
  const proc = { arquivo: `NFe${chave}-procNFe.xml` };
  if (nota.status === 'REJEITADA') {
    // SEFAZ kept nothing: no DANFE, and the XML is the unsigned one, to see what was sent.
    return {
      dica: 'A SEFAZ rejeitou esta NF-e: ela não tem valor fiscal nem DANFE. O XML (sem assinatura) mostra os dados enviados.',
      xml: { rotulo: 'Baixar XML', arquivo: `NFe${chave}.xml` },
    };
  }
  if (nota.status === 'DENEGADA') {
    // A denied NF-e must be kept (with its protocol), but no goods move under it: no DANFE.
    return {
      dica: 'Uso denegado: a mercadoria não pode circular e não há DANFE. Guarde o XML com o protocolo da denegação.',
      xml: { rotulo: 'Baixar XML da denegação', ...proc },
    };
  }
  if (nota.protocolo) {
    const autorizados = {
      xml: { rotulo: 'Baixar XML autorizado', ...proc },
      danfe: { rotulo: 'Baixar DANFE', arquivo: `NFe${chave}-danfe.pdf` },
    };
    if (nota.status !== 'CANCELADA') {
      return autorizados;
    }
    if (nota.cancelamentoProtocolo) {
      // The nfeProc stays valid proof of what was issued; the event is what proves it void.
      return {
        dica: 'Cancelada na SEFAZ: guarde o XML autorizado junto com o evento de cancelamento. O DANFE traz a marca CANCELADA.',
        ...autorizados,
        evento: { rotulo: 'Baixar evento de cancelamento', arquivo: arquivoEventoCancelamento(chave) },
      };
    }
    // Cancelled by an earlier version of this system, which did not send the event 110111.
    return {
      dica: 'Nota cancelada só neste sistema, antes de o cancelamento ser enviado à SEFAZ: lá esta NF-e continua autorizada.',
      ...autorizados,
    };
  }
  // Before SEFAZ's answer, or cancelled before it: the XML as built, and a DANFE that is only a preview.
  const quando = nota.status === 'CONFIRMADA' ? 'ainda não autorizou' : 'não autorizou';
  return {
    dica: `A SEFAZ ${quando} esta NF-e: o XML não tem assinatura nem protocolo, e o DANFE é uma prévia, sem valor fiscal.`,
    xml: { rotulo: 'Baixar XML', arquivo: `NFe${chave}.xml` },
    danfe: { rotulo: 'Baixar DANFE (prévia)', arquivo: `NFe${chave}-danfe-previa.pdf` },
  };
}
