import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface NativeAddon {
  _test: Record<string, (...args: unknown[]) => unknown>;
}

export const native: NativeAddon = require('../build/Release/halfsec.node') as NativeAddon;
