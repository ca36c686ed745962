import { HttpClient, HttpErrorResponse } from '@angular/common/http';
import { Injectable, computed, inject, signal } from '@angular/core';
import { firstValueFrom } from 'rxjs';

import { ConfigService } from '../core/config';

export type Group = 'faturamento' | 'estoque' | 'auditoria';

export interface Session {
  idToken: string;
  email: string;
  groups: Group[];
  /** Epoch seconds: the ID token's `exp`. */
  expiresAt: number;
}

interface InitiateAuthAnswer {
  AuthenticationResult?: { IdToken: string; AccessToken: string; RefreshToken?: string };
  ChallengeName?: string;
}

const STORAGE_KEY = 'nfe.session';

function decodePayload(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(decodeURIComponent(escape(json))) as Record<string, unknown>;
}

export function sessionFromToken(idToken: string): Session {
  const claims = decodePayload(idToken);
  const groups = claims['cognito:groups'];
  return {
    idToken,
    email: String(claims['email'] ?? ''),
    groups: (Array.isArray(groups) ? groups : []) as Group[],
    expiresAt: Number(claims['exp'] ?? 0),
  };
}

/**
 * Sign-in against the stack's Cognito user pool with USER_PASSWORD_AUTH: one InitiateAuth call to
 * Cognito's public JSON API, which a deployed pool and local mode's emulated one both answer.
 * The session lives in sessionStorage: it ends with the tab, and the ID token expires in an hour.
 */
@Injectable({ providedIn: 'root' })
export class AuthService {
  private readonly http = inject(HttpClient);
  private readonly configService = inject(ConfigService);
  readonly session = signal<Session | null>(this.restore());
  readonly idToken = computed(() => this.session()?.idToken ?? null);
  readonly groups = computed(() => new Set(this.session()?.groups ?? []));
  readonly canEmitNotas = computed(() => this.groups().has('faturamento'));
  readonly canManageEstoque = computed(() => this.groups().has('estoque'));

  isSignedIn(): boolean {
    const session = this.session();
    if (session && session.expiresAt * 1000 <= Date.now()) {
      this.signOut();
      return false;
    }
    return session !== null;
  }

  async signIn(email: string, password: string): Promise<void> {
    const config = this.configService.config;
    let answer: InitiateAuthAnswer;
    try {
      answer = await firstValueFrom(
        this.http.post<InitiateAuthAnswer>(
          config.cognitoEndpoint,
          { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: config.userPoolClientId, AuthParameters: { USERNAME: email, PASSWORD: password } },
          {
            headers: {
              'Content-Type': 'application/x-amz-json-1.1',
              'X-Amz-Target': 'AWSCognitoIdentityProviderService.InitiateAuth',
            },
          },
        ),
      );
    } catch (error: unknown) {
      throw new Error(signInMessage(error));
    }
    if (!answer.AuthenticationResult) {
      throw new Error(`Esta conta precisa de uma etapa que o console ainda não oferece (${answer.ChallengeName ?? 'desconhecida'}).`);
    }
    const session = sessionFromToken(answer.AuthenticationResult.IdToken);
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    this.session.set(session);
  }

  signOut(): void {
    sessionStorage.removeItem(STORAGE_KEY);
    this.session.set(null);
  }

  private restore(): Session | null {
    try {
      const stored = sessionStorage.getItem(STORAGE_KEY);
      return stored ? (JSON.parse(stored) as Session) : null;
    } catch {
      return null;
    }
  }
}

function signInMessage(error: unknown): string {
  if (!(error instanceof HttpErrorResponse)) {
    return 'Não foi possível entrar.';
  }
  if (error.status === 0) {
    return 'O serviço de login não respondeu. Verifique a conexão e tente de novo.';
  }
  const type = String((error.error as { __type?: string } | null)?.__type ?? '');
  if (type.endsWith('NotAuthorizedException') || type.endsWith('UserNotFoundException')) {
    return 'E-mail ou senha incorretos.';
  }
  if (type.endsWith('PasswordResetRequiredException')) {
    return 'Esta conta precisa trocar a senha antes de entrar.';
  }
  if (type.endsWith('TooManyRequestsException')) {
    return 'Muitas tentativas. Espere um pouco e tente de novo.';
  }
  return 'Não foi possível entrar.';
}
