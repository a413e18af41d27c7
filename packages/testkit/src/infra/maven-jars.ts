import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { InfraLog } from './backend.js';
import { withBuildLock } from './build-lock.js';
import { runBuildCommand } from './build-command.js';
import { cacheDir, hashFiles } from './paths.js';

export interface MavenJars {
  readonly version: string;
  readonly jarsDir: string;
  readonly built: boolean;
}

/**
 * Downloads a Java server's jars from Maven Central (through `<toolDir>/pom.xml`, which copies them to the
 * folder in its `<name>.jars.dir` property) into the cache, once per version and content of the POM: into a
 * staging folder, marked complete, then renamed into place, under a build lock. Nothing is compiled. Returns
 * at once when they are there.
 */
export async function prepareMavenJars(
  spec: {
    /** 'kafka', 's3proxy': the cache folder, the lock, the logs and the POM property. */
    readonly name: string;
    readonly version: string;
    readonly toolDir: string;
    /** What the log line says is downloaded, e.g. "the broker's jars". */
    readonly jars: string;
  },
  log: InfraLog,
): Promise<MavenJars> {
  const { name, version, toolDir } = spec;
  const pom = path.join(toolDir, 'pom.xml');
  const jarsDir = path.join(cacheDir(), name, `${version}-${hashFiles([pom])}`);
  const complete = (): boolean => existsSync(path.join(jarsDir, '.complete'));
  if (complete()) return { version, jarsDir, built: false };
  return withBuildLock(`${name}-${version}`, log, async () => {
    if (complete()) return { version, jarsDir, built: false };
    log(`${name} ${version}: downloading ${spec.jars} with Maven (tools/${name}/pom.xml)`);
    const staging = `${jarsDir}.partial-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    await runBuildCommand(
      {
        what: `${name} ${version} jars`,
        command: 'mvn',
        // target/ stays inside the tool's folder (git-ignored); the jars go straight to the cache.
        args: ['-B', '-q', '-f', pom, `-D${name}.jars.dir=${staging}`, 'package'],
        cwd: toolDir,
        logName: `${name}-${version}-mvn.log`,
        installHint:
          'Install Maven 3.8+ and a JDK 17+ (Debian: apt-get install maven openjdk-17-jdk-headless).',
      },
      log,
    );
    writeFileSync(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
    rmSync(jarsDir, { recursive: true, force: true });
    mkdirSync(path.dirname(jarsDir), { recursive: true });
    renameSync(staging, jarsDir);
    return { version, jarsDir, built: true };
  });
}
