import { readFileSync } from 'node:fs';

/**
 * A pid alone is not an identity: pids are reused, and killing a recycled pid from a stale pid file could
 * hit an unrelated process (another developer's tests share this machine). On Linux the start time in
 * /proc/<pid>/stat makes the pair unique; elsewhere it is undefined and only liveness is checked.
 */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime?: string;
}

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

export function identityOf(pid: number): ProcessIdentity {
  const startTime = processStartTime(pid);
  return startTime === undefined ? { pid } : { pid, startTime };
}

export function isAlive(identity: ProcessIdentity): boolean {
  try {
    process.kill(identity.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else, so it is alive (and not ours to kill).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (identity.startTime === undefined) return true;
  const now = processStartTime(identity.pid);
  return now === undefined || now === identity.startTime;
}
