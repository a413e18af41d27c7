// The first admin key. Distributed: LLMTWIN_GATEWAY_BOOTSTRAP_ADMIN_KEY is made to exist (hashed) at start.
// Embedded: when no active admin key exists, one is created and written to <data dir>/admin.key (mode 0600),
// where the CLI finds it; the log says where, never what.
import { chmod, rename, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ApiKeyStore } from './api-keys.js';

export async function ensureBootstrapKey(keys: ApiKeyStore, key: string, logger: Logger): Promise<void> {
  const { info, created } = await keys.ensureAdminKey(key, 'bootstrap (LLMTWIN_GATEWAY_BOOTSTRAP_ADMIN_KEY)');
  if (info.revokedAt !== null) {
    logger.warn(
      { keyId: info._id },
      'the bootstrap admin key was revoked and stays revoked: unset LLMTWIN_GATEWAY_BOOTSTRAP_ADMIN_KEY',
    );
  } else if (created) {
    logger.info({ keyId: info._id, prefix: info.prefix }, 'bootstrap admin key stored (hashed)');
  }
}

/** Creates an admin key when there is no active one, and writes it to `file`. */
export async function ensureAdminKeyFile(keys: ApiKeyStore, file: string, logger: Logger): Promise<boolean> {
  if ((await keys.countActiveAdmins()) > 0) return false;
  const { key, info } = await keys.create({ admin: true, name: 'embedded admin (admin.key)' });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${key}\n`, { mode: 0o600 });
  // writeFile's mode is subject to the umask; the key file must be private whatever the umask.
  await chmod(temporary, 0o600);
  await rename(temporary, file);
  logger.info({ keyId: info._id, file }, `admin API key created: the CLI reads it from ${file}`);
  return true;
}
