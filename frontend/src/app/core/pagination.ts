import { computed, signal } from '@angular/core';

/** Cursor paging: the API gives the next page's cursor; going back re-reads the previous cursors. */
export class CursorPages {
  private readonly previous = signal<(string | null)[]>([]);
  readonly current = signal<string | null>(null);
  readonly next = signal<string | null>(null);
  readonly hasPrevious = computed(() => this.previous().length > 0);
  readonly page = computed(() => this.previous().length + 1);

  forward(): void {
    const next = this.next();
    if (next) {
      this.previous.update((stack) => [...stack, this.current()]);
      this.current.set(next);
    }
  }

  back(): void {
    const stack = this.previous();
    if (stack.length) {
      this.current.set(stack[stack.length - 1]);
      this.previous.set(stack.slice(0, -1));
    }
  }

  reset(): void {
    this.previous.set([]);
    this.current.set(null);
  }
}
