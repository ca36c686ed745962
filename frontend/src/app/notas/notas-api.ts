import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { Observable } from 'rxjs';

import { NotaIn, NotaOut, PaginaNotas, StatusNota } from '../core/api-types';
import { ConfigService } from '../core/config';

/** /api/v1/notas, typed from docs/openapi.json (core/api-types.ts). */
@Injectable({ providedIn: 'root' })
export class NotasApi {
  private readonly http = inject(HttpClient);
  private readonly base = `${inject(ConfigService).config.apiBaseUrl}/api/v1/notas`;

  list(status: StatusNota | null, limit: number, cursor: string | null): Observable<PaginaNotas> {
    let params = new HttpParams().set('limit', limit);
    if (status) {
      params = params.set('status', status);
    }
    if (cursor) {
      params = params.set('cursor', cursor);
    }
    return this.http.get<PaginaNotas>(this.base, { params });
  }

  get(id: string): Observable<NotaOut> {
    return this.http.get<NotaOut>(`${this.base}/${encodeURIComponent(id)}`);
  }

  /** `idempotencyKey`: the same key for every send of one submission, so a repeat emits nothing new. */
  emit(body: NotaIn, idempotencyKey: string): Observable<NotaOut> {
    return this.http.post<NotaOut>(this.base, body, { headers: { 'Idempotency-Key': idempotencyKey } });
  }

  cancel(id: string): Observable<NotaOut> {
    return this.http.post<NotaOut>(`${this.base}/${encodeURIComponent(id)}/cancelamento`, null);
  }
}
