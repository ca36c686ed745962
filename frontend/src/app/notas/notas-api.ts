import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { Observable } from 'rxjs';

import { CancelamentoIn, NotaIn, NotaOut, PaginaNotas, StatusNota } from '../core/api-types';
import { ConfigService } from '../core/config';

/** The list's filters; a null one is not sent. */
export interface FiltroNotas {
  status: StatusNota | null;
  serie: number | null;
  numeroDe: number | null;
  numeroAte: number | null;
}

/** /api/v1/notas, typed from docs/openapi.json (core/api-types.ts). */
@Injectable({ providedIn: 'root' })
export class NotasApi {
  private readonly http = inject(HttpClient);
  private readonly base = `${inject(ConfigService).config.apiBaseUrl}/api/v1/notas`;

  list(filtro: FiltroNotas, limit: number, cursor: string | null): Observable<PaginaNotas> {
    let params = new HttpParams().set('limit', limit);
    for (const [name, value] of Object.entries(filtro)) {
      if (value !== null) {
        params = params.set(name, value as string | number);
      }
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

  /** 202 with the nota still AUTORIZADA: SEFAZ registers the cancelamento (evento 110111) afterwards.
   * 422 names `justificativa` when SEFAZ would refuse the text; 409 says why the nota cannot be cancelled. */
  cancel(id: string, body: CancelamentoIn): Observable<NotaOut> {
    return this.http.post<NotaOut>(`${this.base}/${encodeURIComponent(id)}/cancelamento`, body);
  }

  // The documents come through HttpClient, not a plain link, so that the interceptor adds the token:
  // the API refuses a request without it, and a link cannot carry a header. Accept names the document's
  // type first: API Gateway returns a binary body as bytes only when the request's first Accept is one
  // of the API's binary media types (application/pdf), and base64 text otherwise.

  /** The NF-e (`application/xml`); 404 before it is built. */
  xml(id: string): Observable<Blob> {
    return this.http.get(`${this.base}/${encodeURIComponent(id)}/xml`, {
      responseType: 'blob',
      headers: { Accept: 'application/xml, application/json' },
    });
  }

  /** The cancelamento's procEventoNFe (`application/xml`); 404 before SEFAZ registered it. */
  eventoCancelamento(id: string): Observable<Blob> {
    return this.http.get(`${this.base}/${encodeURIComponent(id)}/cancelamento/xml`, {
      responseType: 'blob',
      headers: { Accept: 'application/xml, application/json' },
    });
  }

  /** The DANFE (`application/pdf`); 404 before it is rendered. */
  danfe(id: string): Observable<Blob> {
    return this.http.get(`${this.base}/${encodeURIComponent(id)}/danfe`, {
      responseType: 'blob',
      headers: { Accept: 'application/pdf, application/json' },
    });
  }
}
