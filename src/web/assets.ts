import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Static files live in `public/` at the package root. This module sits two levels below the root
 * both as source (`src/web/`) and compiled (`dist/web/`), so one relative URL serves both.
 */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

export interface AssetUrls {
  css: string;
  js: string;
}

/** Asset URLs carry a content hash so they can be cached for a long time and still update on deploy. */
export function assetUrls(base: string): AssetUrls {
  const version = (file: string) =>
    createHash('sha256')
      .update(readFileSync(new URL(file, `file://${PUBLIC_DIR}`)))
      .digest('hex')
      .slice(0, 12);
  return {
    css: `${base}/assets/app.css?v=${version('app.css')}`,
    js: `${base}/assets/app.js?v=${version('app.js')}`,
  };
}
