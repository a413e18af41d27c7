// The browser the web console's end-to-end tests drive: Debian's `chromium` package, driven by playwright-core
// with an explicit executable path (test tools' own browser downloads do not work on machines without
// internet). `infra:prepare` (and so `npm test`'s pretest) installs it with apt-get when it is missing and the
// user is root; anyone else installs it once themselves, or points LLMTWIN_CHROMIUM at a Chrome/Chromium.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

/** The Chromium to drive, or undefined when there is none. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.LLMTWIN_CHROMIUM?.trim();
  if (fromEnv) return fromEnv;
  return CANDIDATES.find((c) => existsSync(c));
}

export const HOW_TO_GET_CHROMIUM =
  "install Debian's chromium package (`sudo apt-get install chromium`; `npm run infra:prepare` does it when run as " +
  'root) or set LLMTWIN_CHROMIUM to a Chrome or Chromium executable';

/** Makes sure a Chromium exists: installs Debian's package with apt-get when missing and allowed. */
export function prepareChromium(log: (line: string) => void): string | undefined {
  const found = findChromium();
  if (found) {
    const version = spawnSync(found, ['--version'], { encoding: 'utf8' }).stdout.trim();
    log(`chromium: ${version || found} (${found})`);
    return found;
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    log(
      `chromium: not found, and not installed (not root or no apt-get): the console's browser tests need it — ${HOW_TO_GET_CHROMIUM}`,
    );
    return undefined;
  }
  log("chromium: installing Debian's chromium package with apt-get (once)");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], {
    stdio: 'inherit',
    env,
  });
  const installed = findChromium();
  if (!installed)
    throw new Error(`apt-get installed chromium but no executable was found in ${CANDIDATES.join(', ')}`);
  log(`chromium: installed (${installed})`);
  return installed;
}
