import { HttpErrorResponse, HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { Router } from '@angular/router';
import { catchError, throwError } from 'rxjs';

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
      return throwError(() => ApiError.from(response));
    }),
  );
};
