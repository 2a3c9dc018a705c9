// The operator's dashboard (/dashboard): its page and script from web/, and uPlot from the `uplot`
// package's dist/ (never a CDN). Routes (routes.ts) decide who may load them; the figures come from
// /api/stats and /api/streams, polled by the page with the admin token.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface StaticAsset {
  body: string;
  type: string;
  etag: string;
}

/**
 * URL name under /dashboard/ → where it is read from. The page itself is /dashboard; its links are
 * relative (dashboard/uplot.js, api/stats), so a mount prefix (Express) carries over.
 */
const SOURCES: Readonly<Record<string, { from: 'web' | 'uplot'; file: string; type: string }>> = {
  'dashboard.html': { from: 'web', file: 'dashboard.html', type: 'text/html; charset=utf-8' },
  'dashboard.js': { from: 'web', file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { from: 'web', file: 'style.css', type: 'text/css; charset=utf-8' },
  'uplot.js': { from: 'uplot', file: 'dist/uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  'uplot.css': { from: 'uplot', file: 'dist/uPlot.min.css', type: 'text/css; charset=utf-8' },
};

const WEB_DIR = new URL('../../web/', import.meta.url);

function read(from: 'web' | 'uplot', file: string): string | undefined {
  try {
    if (from === 'web') return readFileSync(new URL(file, WEB_DIR), 'utf8');
    // Resolved like an import, so a hoisted node_modules (the relay as a dependency) works too.
    return readFileSync(createRequire(import.meta.url).resolve(`uplot/${file}`), 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads every dashboard file once; a missing one is left out (and answers 404). */
export function loadDashboard(): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  for (const [name, src] of Object.entries(SOURCES)) {
    const body = read(src.from, src.file);
    if (body === undefined) continue;
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { body, type: src.type, etag });
  }
  return assets;
}

/**
 * Headers for a dashboard file: revalidated every time (no version in the names), never framed
 * (it drives admin calls), scripts and styles from this origin only (uPlot sets inline styles).
 */
export const DASHBOARD_HEADERS: [string, string][] = [
  ['Cache-Control', 'no-cache'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"],
  ['Referrer-Policy', 'no-referrer'],
];
