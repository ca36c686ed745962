/**
 * Origem da mercadoria (the NF-e's `orig`, table A of the CST): the official wording for the form's
 * select, and a short one for tables.
 */
export const ORIGENS: readonly { codigo: number; rotulo: string; curto: string }[] = [
  { codigo: 0, rotulo: '0 - Nacional, exceto as indicadas nos códigos 3, 4, 5 e 8', curto: 'Nacional' },
  { codigo: 1, rotulo: '1 - Estrangeira - Importação direta, exceto a indicada no código 6', curto: 'Estrangeira - importação direta' },
  {
    codigo: 2,
    rotulo: '2 - Estrangeira - Adquirida no mercado interno, exceto a indicada no código 7',
    curto: 'Estrangeira - adquirida no mercado interno',
  },
  {
    codigo: 3,
    rotulo: '3 - Nacional, mercadoria ou bem com Conteúdo de Importação superior a 40% e inferior ou igual a 70%',
    curto: 'Nacional, importação acima de 40% e até 70%',
  },
  {
    codigo: 4,
    rotulo:
      '4 - Nacional, cuja produção tenha sido feita em conformidade com os processos produtivos básicos de que tratam as legislações citadas nos Ajustes',
    curto: 'Nacional, processos produtivos básicos',
  },
  { codigo: 5, rotulo: '5 - Nacional, mercadoria ou bem com Conteúdo de Importação inferior ou igual a 40%', curto: 'Nacional, importação até 40%' },
  {
    codigo: 6,
    rotulo: '6 - Estrangeira - Importação direta, sem similar nacional, constante em lista da CAMEX e gás natural',
    curto: 'Estrangeira - importação direta, sem similar nacional',
  },
  {
    codigo: 7,
    rotulo: '7 - Estrangeira - Adquirida no mercado interno, sem similar nacional, constante em lista da CAMEX e gás natural',
    curto: 'Estrangeira - mercado interno, sem similar nacional',
  },
  { codigo: 8, rotulo: '8 - Nacional, mercadoria ou bem com Conteúdo de Importação superior a 70%', curto: 'Nacional, importação acima de 70%' },
];

/** `0 - Nacional` for a table cell; an empty string when the produto has none. */
export function origemCurta(codigo: number | null | undefined): string {
  const origem = ORIGENS.find((o) => o.codigo === codigo);
  return origem ? `${origem.codigo} - ${origem.curto}` : '';
}
