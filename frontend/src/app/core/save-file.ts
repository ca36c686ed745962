/**
 * Hands a downloaded body to the browser as a file named `filename`: an object URL on a transient
 * link, revoked once the browser has taken it.
 */
export function saveFile(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
  // The browser reads the blob after the click returns, and revoking too soon can cancel the download
  // (Chromium does, now and then): FileSaver.js's 40 s is long enough for any document we serve.
  setTimeout(() => URL.revokeObjectURL(url), 40_000);
}
