import { ChangeDetectionStrategy, Component, inject, input, signal } from '@angular/core';
import { NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { Router } from '@angular/router';

import { ConfigService } from '../core/config';
import { AuthService } from './auth.service';

@Component({
  selector: 'nfe-sign-in',
  imports: [ReactiveFormsModule],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <section class="cartao estreito" aria-labelledby="titulo-entrar">
      <h1 id="titulo-entrar">Entrar</h1>
      @if (motivo() === 'sessao') {
        <p class="aviso" role="status">Sua sessão terminou. Entre de novo.</p>
      }
      @if (config.loadError(); as problema) {
        <p class="erro" role="alert">{{ problema }}</p>
      }
      <form [formGroup]="form" (ngSubmit)="submit()" novalidate>
        <label for="email">E-mail</label>
        <input id="email" type="email" formControlName="email" autocomplete="username" required />
        <label for="senha">Senha</label>
        <input id="senha" type="password" formControlName="senha" autocomplete="current-password" required />
        @if (erro(); as mensagem) {
          <p class="erro" role="alert">{{ mensagem }}</p>
        }
        <button type="submit" [disabled]="enviando()">Entrar</button>
      </form>
    </section>
  `,
})
export class SignIn {
  private readonly auth = inject(AuthService);
  private readonly router = inject(Router);
  protected readonly config = inject(ConfigService);
  /** `?motivo=sessao` when the API answered 401 and the interceptor sent the user here. */
  readonly motivo = input<string>();
  protected readonly erro = signal<string | null>(null);
  protected readonly enviando = signal(false);
  protected readonly form = inject(NonNullableFormBuilder).group({
    email: ['', [Validators.required, Validators.email]],
    senha: ['', Validators.required],
  });

  async submit(): Promise<void> {
    if (this.form.invalid) {
      this.erro.set('Informe o e-mail e a senha.');
      return;
    }
    this.enviando.set(true);
    this.erro.set(null);
    try {
      const { email, senha } = this.form.getRawValue();
      await this.auth.signIn(email.trim(), senha);
      await this.router.navigate(['/notas']);
    } catch (error: unknown) {
      this.erro.set(error instanceof Error ? error.message : 'Não foi possível entrar.');
    } finally {
      this.enviando.set(false);
    }
  }
}
