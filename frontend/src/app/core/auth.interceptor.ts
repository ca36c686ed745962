import { HttpErrorResponse, HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { Router } from '@angular/router';
import { Observable, catchError, from, switchMap, throwError } from 'rxjs';

import { AuthService } from '../auth/auth.service';
import { ApiError } from './api-error';
import { ConfigService } from './config';

/** Adds the ID token to API requests and maps their errors once: 401 signs out, 403 names the group. */
export const authInterceptor: HttpInterceptorFn = (request, next) => {
  const auth = inject(AuthService);
  const router = inject(Router);
  const base = inject(ConfigService).config.apiBaseUrl;
  const isApi = request.url.startsWith(`${base}/api/`);
  if (!isApi) {
    return next(request);
  }
  const token = auth.idToken();
  const authorized = token ? request.clone({ setHeaders: { Authorization: token } }) : request;
  return next(authorized).pipe(
    catchError((response: unknown) => {
      if (!(response instanceof HttpErrorResponse)) {
        return throwError(() => response);
      }
      if (response.status === 401) {
        auth.signOut();
        void router.navigate(['/entrar'], { queryParams: { motivo: 'sessao' } });
      }
      return readBlobError(response).pipe(switchMap((readable) => throwError(() => ApiError.from(readable))));
    }),
  );
};

/**
 * A download (responseType 'blob') gets its error body as a Blob too: read it back as the API's JSON
 * error, so a 404 before the XML exists shows the API's message like any other error.
 */
function readBlobError(response: HttpErrorResponse): Observable<HttpErrorResponse> {
  if (!(response.error instanceof Blob)) {
    return from([response]);
  }
  return from(
    response.error.text().then(
      (text) => {
        let error: unknown = text;
        try {
          error = JSON.parse(text);
        } catch {
          // not JSON: ApiError.from falls back to the status
        }
        return new HttpErrorResponse({ error, headers: response.headers, status: response.status, statusText: response.statusText, url: response.url ?? undefined });
      },
      () => response,
    ),
  );
}
