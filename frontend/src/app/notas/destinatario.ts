import { IndicadorIe } from '../core/api-types';

/** The 27 unidades federativas, by sigla (the NF-e's UF). */
export const UFS: readonly { sigla: string; nome: string }[] = [
  { sigla: 'AC', nome: 'Acre' },
  { sigla: 'AL', nome: 'Alagoas' },
  { sigla: 'AM', nome: 'Amazonas' },
  { sigla: 'AP', nome: 'Amapá' },
  { sigla: 'BA', nome: 'Bahia' },
  { sigla: 'CE', nome: 'Ceará' },
  { sigla: 'DF', nome: 'Distrito Federal' },
  { sigla: 'ES', nome: 'Espírito Santo' },
  { sigla: 'GO', nome: 'Goiás' },
  { sigla: 'MA', nome: 'Maranhão' },
  { sigla: 'MG', nome: 'Minas Gerais' },
  { sigla: 'MS', nome: 'Mato Grosso do Sul' },
  { sigla: 'MT', nome: 'Mato Grosso' },
  { sigla: 'PA', nome: 'Pará' },
  { sigla: 'PB', nome: 'Paraíba' },
  { sigla: 'PE', nome: 'Pernambuco' },
  { sigla: 'PI', nome: 'Piauí' },
  { sigla: 'PR', nome: 'Paraná' },
  { sigla: 'RJ', nome: 'Rio de Janeiro' },
  { sigla: 'RN', nome: 'Rio Grande do Norte' },
  { sigla: 'RO', nome: 'Rondônia' },
  { sigla: 'RR', nome: 'Roraima' },
  { sigla: 'RS', nome: 'Rio Grande do Sul' },
  { sigla: 'SC', nome: 'Santa Catarina' },
  { sigla: 'SE', nome: 'Sergipe' },
  { sigla: 'SP', nome: 'São Paulo' },
  { sigla: 'TO', nome: 'Tocantins' },
];

/** dest/indIEDest, with the MOC's wording. */
export const INDICADORES_IE: readonly { codigo: IndicadorIe; rotulo: string }[] = [
  { codigo: 1, rotulo: '1 - Contribuinte do ICMS' },
  { codigo: 2, rotulo: '2 - Contribuinte isento de inscrição' },
  { codigo: 9, rotulo: '9 - Não contribuinte' },
];

export const INDICADOR_IE_ROTULO: Record<IndicadorIe, string> = {
  1: 'Contribuinte do ICMS',
  2: 'Contribuinte isento de inscrição',
  9: 'Não contribuinte',
};
