import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { Observable } from 'rxjs';

import { EntradaIn, EntradaRegistrada, PaginaProdutos, ProdutoIn, ProdutoOut } from '../core/api-types';
import { ConfigService } from '../core/config';

/** /api/v1/produtos, typed from docs/openapi.json (core/api-types.ts). */
@Injectable({ providedIn: 'root' })
export class ProdutosApi {
  private readonly http = inject(HttpClient);
  private readonly base = `${inject(ConfigService).config.apiBaseUrl}/api/v1/produtos`;

  list(limit: number, cursor: string | null): Observable<PaginaProdutos> {
    let params = new HttpParams().set('limit', limit);
    if (cursor) {
      params = params.set('cursor', cursor);
    }
    return this.http.get<PaginaProdutos>(this.base, { params });
  }

  get(id: string): Observable<ProdutoOut> {
    return this.http.get<ProdutoOut>(`${this.base}/${encodeURIComponent(id)}`);
  }

  create(body: ProdutoIn): Observable<ProdutoOut> {
    return this.http.post<ProdutoOut>(this.base, body);
  }

  registerEntrada(id: string, body: EntradaIn): Observable<EntradaRegistrada> {
    return this.http.post<EntradaRegistrada>(`${this.base}/${encodeURIComponent(id)}/entradas`, body);
  }
}
