import { Pipe, PipeTransform } from '@angular/core';

/**
 * How the console writes the NF-e's identifiers: the API stores them bare (digits, or digits and
 * letters for the alphanumeric CNPJ) and the console shows them as a Brazilian reader expects.
 * Anything of an unexpected shape is shown as it came, never guessed at.
 */

/** CPF `529.982.247-25`; CNPJ `11.222.333/0001-81`, alphanumeric too (`12.ABC.345/01DE-35`). */
export function formatDocumento(value: string | null | undefined): string {
  const bare = (value ?? '').replace(/[.\-/\s]/g, '').toUpperCase();
  if (/^[0-9]{11}$/.test(bare)) {
    return `${bare.slice(0, 3)}.${bare.slice(3, 6)}.${bare.slice(6, 9)}-${bare.slice(9)}`;
  }
  if (/^[0-9A-Z]{12}[0-9]{2}$/.test(bare)) {
    return `${bare.slice(0, 2)}.${bare.slice(2, 5)}.${bare.slice(5, 8)}/${bare.slice(8, 12)}-${bare.slice(12)}`;
  }
  return value ?? '';
}

/** CEP `01310-100`. */
export function formatCep(value: string | null | undefined): string {
  const bare = (value ?? '').replace(/\D/g, '');
  return bare.length === 8 ? `${bare.slice(0, 5)}-${bare.slice(5)}` : (value ?? '');
}

/** The chave de acesso in groups of four, as the DANFE prints it: `3526 1211 2223 ...`. */
export function formatChave(value: string | null | undefined): string {
  const bare = (value ?? '').replace(/\s/g, '');
  return bare.match(/.{1,4}/g)?.join(' ') ?? '';
}

@Pipe({ name: 'documento' })
export class DocumentoPipe implements PipeTransform {
  transform(value: string | null | undefined): string {
    return formatDocumento(value);
  }
}

@Pipe({ name: 'cep' })
export class CepPipe implements PipeTransform {
  transform(value: string | null | undefined): string {
    return formatCep(value);
  }
}

@Pipe({ name: 'chave' })
export class ChavePipe implements PipeTransform {
  transform(value: string | null | undefined): string {
    return formatChave(value);
  }
}
