import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { Router, RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';

import { AuthService } from './auth/auth.service';

@Component({
  selector: 'nfe-root',
  imports: [RouterOutlet, RouterLink, RouterLinkActive],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <a class="pular" href="#conteudo">Pular para o conteúdo</a>
    <header>
      <span class="marca">NF-e</span>
      @if (auth.session(); as session) {
        <nav aria-label="Principal">
          <a routerLink="/notas" routerLinkActive="ativo" ariaCurrentWhenActive="page">Notas</a>
          <a routerLink="/produtos" routerLinkActive="ativo" ariaCurrentWhenActive="page">Produtos</a>
        </nav>
        <span class="usuario">{{ session.email }} ({{ session.groups.join(', ') || 'sem grupo' }})</span>
        <button type="button" class="secundario" (click)="signOut()">Sair</button>
      }
    </header>
    <main id="conteudo" tabindex="-1">
      <router-outlet />
    </main>
  `,
})
export class App {
  protected readonly auth = inject(AuthService);
  private readonly router = inject(Router);

  signOut(): void {
    this.auth.signOut();
    void this.router.navigate(['/entrar']);
  }
}
