import { Routes } from '@angular/router';

import { signedIn } from './auth/auth.guard';
import { SignIn } from './auth/sign-in';

export const routes: Routes = [
  { path: 'entrar', component: SignIn, title: 'Entrar: NF-e' },
  {
    path: '',
    canActivateChild: [signedIn],
    children: [
      { path: 'notas', loadComponent: () => import('./notas/notas-page').then((m) => m.NotasPage), title: 'Notas: NF-e' },
      { path: 'notas/nova', loadComponent: () => import('./notas/emitir-nota').then((m) => m.EmitirNota), title: 'Emitir nota: NF-e' },
      { path: 'notas/:id', loadComponent: () => import('./notas/nota-detalhe').then((m) => m.NotaDetalhe), title: 'Nota: NF-e' },
      { path: 'produtos', loadComponent: () => import('./produtos/produtos-page').then((m) => m.ProdutosPage), title: 'Produtos: NF-e' },
      { path: '', pathMatch: 'full', redirectTo: 'notas' },
    ],
  },
  { path: '**', redirectTo: 'notas' },
];
