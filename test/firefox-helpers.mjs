// Firefox ESR (Debian's /usr/bin/firefox-esr) driven by puppeteer-core over WebDriver BiDi, with
// a fake camera and microphone and no permission prompts (shared/PEERS.md). Never downloads a
// browser. Firefox gathers no ICE candidate with only `lo`: run it in a veth namespace
// (test/netns.mjs) and point the relay's announced address at VETH_ADDR.
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer-core';

export const FIREFOX_PATH = process.env.HALFSEC_FIREFOX ?? '/usr/bin/firefox-esr';

export function firefoxAvailable() {
  return existsSync(FIREFOX_PATH);
}

/** One Firefox, SIGKILLed after `limitMs` whatever happens. Returns { browser, version, close() }. */
export async function launchFirefox({ limitMs = 120_000 } = {}) {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    timeout: 30_000,
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      // Muted autoplay is allowed anyway; this also lets a page call play() without a gesture.
      'media.autoplay.default': 0,
    },
  });
  const proc = browser.process();
  const guard = setTimeout(() => proc?.kill('SIGKILL'), limitMs);
  guard.unref();
  return {
    browser,
    version: await browser.version(),
    async close() {
      clearTimeout(guard);
      await browser.close().catch(() => {});
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}
