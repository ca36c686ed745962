import { HttpBackend, HttpClient } from '@angular/common/http';
import { Injectable, inject, signal } from '@angular/core';
import { firstValueFrom } from 'rxjs';

/** Where this deployment's API and user pool are: `/config.json`, written by whoever hosts the build. */
export interface RuntimeConfig {
  /** Prefix of every API path; empty when the API is served from this origin (`/api/*`). */
  apiBaseUrl: string;
  region: string;
  /** Cognito's endpoint: `https://cognito-idp.<region>.amazonaws.com/`, or local mode's emulator. */
  cognitoEndpoint: string;
  userPoolClientId: string;
}

@Injectable({ providedIn: 'root' })
export class ConfigService {
  // HttpBackend skips the interceptors: there is no session yet, and no API to map errors for.
  private readonly http = new HttpClient(inject(HttpBackend));
  private readonly value = signal<RuntimeConfig | null>(null);
  readonly loadError = signal<string | null>(null);

  get config(): RuntimeConfig {
    const value = this.value();
    if (value === null) {
      throw new Error('config.json não foi carregado');
    }
    return value;
  }

  async load(): Promise<void> {
    try {
      const value = await firstValueFrom(this.http.get<RuntimeConfig>('config.json', { headers: { 'Cache-Control': 'no-cache' } }));
      const endpoint = value.cognitoEndpoint || `https://cognito-idp.${value.region}.amazonaws.com/`;
      this.value.set({ ...value, apiBaseUrl: value.apiBaseUrl.replace(/\/$/, ''), cognitoEndpoint: endpoint });
    } catch {
      // The console still starts, so it can say what is missing instead of showing a blank page.
      this.loadError.set('Não foi possível ler config.json: o console não sabe onde estão a API e o login.');
    }
  }
}
