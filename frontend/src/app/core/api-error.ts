import { HttpErrorResponse } from '@angular/common/http';
import { AbstractControl, FormGroup } from '@angular/forms';

import { ErrorBody, FieldError } from './api-types';

/** An API answer other than 2xx, with the message to show and its field errors (422). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }

  static from(response: HttpErrorResponse): ApiError {
    const body = response.error as Partial<ErrorBody> | null;
    if (response.status === 0) {
      return new ApiError(0, 'A API não respondeu. Verifique a conexão e tente de novo.');
    }
    if (response.status === 403) {
      return new ApiError(403, 'Seu grupo não tem permissão para fazer isso.');
    }
    const message = typeof body?.message === 'string' ? body.message : `A API respondeu ${response.status}.`;
    return new ApiError(response.status, message, Array.isArray(body?.errors) ? body.errors : []);
  }
}

/** `items[1].quantidade` -> `items.1.quantidade`, the path FormGroup.get understands. */
export function controlPath(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1').replace(/^body\./, '');
}

/**
 * Puts each 422 error on the control its path names (as the `api` error, shown next to the field);
 * returns the messages that match no control, for the form's general message.
 */
export function applyFieldErrors(form: FormGroup, error: ApiError): string[] {
  const unmatched: string[] = [];
  for (const fieldError of error.errors) {
    const control: AbstractControl | null = fieldError.in === 'body' ? form.get(controlPath(fieldError.field)) : null;
    if (control) {
      control.setErrors({ ...(control.errors ?? {}), api: fieldError.message });
      control.markAsTouched();
    } else {
      unmatched.push(fieldError.field ? `${fieldError.field}: ${fieldError.message}` : fieldError.message);
    }
  }
  return unmatched;
}
