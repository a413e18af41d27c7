// Which API key the CLI sends to the gateway: --api-key, else LLMTWIN_API_KEY, else the admin key an
// embedded twin wrote to <data dir>/admin.key on its first start.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ADMIN_KEY_FILE = 'admin.key';

export const defaultDataDir = () => process.env['LLMTWIN_DATA_DIR'] ?? '.llmtwin';

export function resolveApiKey(
  options: { apiKey?: string; dataDir?: string },
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (options.apiKey?.trim()) return options.apiKey.trim();
  const fromEnv = env['LLMTWIN_API_KEY']?.trim();
  if (fromEnv) return fromEnv;
  const file = path.resolve(options.dataDir ?? env['LLMTWIN_DATA_DIR'] ?? '.llmtwin', ADMIN_KEY_FILE);
  try {
    const key = readFileSync(file, 'utf8').trim();
    return key || undefined;
  } catch {
    return undefined;
  }
}

export const KEY_SOURCES = `--api-key, LLMTWIN_API_KEY or <data dir>/${ADMIN_KEY_FILE}`;
