import { AbstractControl, ValidationErrors } from '@angular/forms';

// xJust of the cancelamento (TJust): the limits the API applies (functions/fiscal/limits.py), checked
// here too so that the button waits for a text SEFAZ would take, instead of a 422 after each try.
export const XJUST_MIN = 15;
export const XJUST_MAX = 255;

/** The text as the API stores and sends it: blank runs (line breaks too) become one space, ends trimmed. */
export function normalizarJustificativa(texto: string): string {
  return texto.replace(/\s+/g, ' ').trim();
}

/** Its length as the API counts it: in code points (an emoji is one, not JavaScript's two). */
export function tamanhoJustificativa(texto: string): number {
  return Array.from(normalizarJustificativa(texto)).length;
}

/** The characters SEFAZ's schema refuses: anything outside printable Latin-1 (curly quotes, long
 * dashes and emoji, which a text pasted from a word processor or a phone easily carries). */
export function caracteresRecusados(texto: string): string[] {
  const recusados = new Set<string>();
  for (const char of normalizarJustificativa(texto)) {
    const code = char.codePointAt(0) ?? 0;
    if (!((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff))) {
      recusados.add(char);
    }
  }
  return [...recusados];
}

/** Validator of the justificativa's control: `tamanho` outside 15-255, `caracteres` SEFAZ refuses. */
export function justificativaValida(control: AbstractControl<string>): ValidationErrors | null {
  const texto = control.value ?? '';
  const tamanho = tamanhoJustificativa(texto);
  const recusados = caracteresRecusados(texto);
  const erros: ValidationErrors = {};
  if (tamanho < XJUST_MIN || tamanho > XJUST_MAX) {
    erros['tamanho'] = tamanho;
  }
  if (recusados.length) {
    erros['caracteres'] = recusados;
  }
  return Object.keys(erros).length ? erros : null;
}

/** The live count under the field: how many characters count, and what is missing or over. */
export function contagem(texto: string): string {
  const n = tamanhoJustificativa(texto);
  const base = `${n} de ${XJUST_MAX} caracteres`;
  if (n < XJUST_MIN) {
    const faltam = XJUST_MIN - n;
    return `${base}: ${faltam === 1 ? 'falta 1' : `faltam ${faltam}`} para o mínimo de ${XJUST_MIN}.`;
  }
  if (n > XJUST_MAX) {
    return `${base}: ${n - XJUST_MAX} além do máximo.`;
  }
  return `${base}.`;
}
