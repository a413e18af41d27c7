// A real OpenAI-compatible model server for the router's integration tests: llama-cpp-python's server
// (FastAPI over llama.cpp), installed from PyPI into a virtual environment in the cache. There is no binary
// wheel for it, so pip compiles llama.cpp from the sdist (cmake and a C++ compiler; 6-8 minutes on two
// cores), once per machine and pinned version; `npm run infra:prepare` does it ahead of the tests. Tests
// start their own servers with startLlamaCppServer: it is not one of the always-started backends.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { defaultInfraLog, seconds, type InfraLog } from './backend.js';
import { withBuildLock } from './build-lock.js';
import { runBuildCommand } from './build-command.js';
import { dataDirFor, ManagedProcess, removeOwnedDir } from './managed-process.js';
import { cacheDir } from './paths.js';
import { assertPortFree, freePort } from './ports.js';
import { waitUntil } from './readiness.js';

/** The pinned llama-cpp-python release (it pins its own llama.cpp commit). */
export const LLAMA_CPP_PYTHON_VERSION = '0.3.16';

const REQUIREMENT = `llama-cpp-python[server]==${LLAMA_CPP_PYTHON_VERSION}`;

/**
 * Without it ggml compiles for the build machine's CPU (-march=native). The cache folder travels between CI
 * machines, and a build from a CPU with AVX-512 dies with SIGILL on one without; the portable build (AVX2,
 * FMA, F16C on x86-64) costs a 135M-parameter test model nothing that matters.
 */
const CMAKE_ARGS = '-DGGML_NATIVE=OFF';

/**
 * The server's dependencies as they were verified with it (its own ranges are open-ended: fastapi>=0.100,
 * sse-starlette>=1.6.1, ...), so that a fresh machine installs what the cached ones run. numpy 2.4 needs
 * Python 3.11+.
 */
const CONSTRAINTS = [
  'annotated-doc==0.0.7',
  'annotated-types==0.8.0',
  'anyio==4.16.0',
  'click==8.5.1',
  'diskcache==5.6.3',
  'fastapi==0.165.0',
  'h11==0.16.0',
  'idna==3.20',
  'jinja2==3.1.6',
  'MarkupSafe==3.0.4',
  'numpy==2.4.6',
  'opentelemetry-api==1.45.2',
  'pydantic==2.14.4',
  'pydantic-core==2.50.5',
  'pydantic-settings==2.16.3',
  'python-dotenv==1.2.4',
  'PyYAML==6.0.4',
  'sse-starlette==3.7.0',
  'starlette==1.10.0',
  'starlette-context==0.3.6',
  'typing-extensions==4.16.0',
  'typing-inspection==0.4.5',
  'uvicorn==0.54.0',
].join('\n');

const MARKER = 'llmtwin-prepared.json';

export interface LlamaCppArtifacts {
  readonly version: string;
  /** The virtual environment's interpreter: always run as `python -m ...` (see prepareLlamaCppServer). */
  readonly python: string;
  readonly venv: string;
}

interface Marker {
  readonly requirement: string;
  readonly cmakeArgs: string;
  readonly constraints: string;
  readonly basePython: string;
  readonly preparedAt: string;
  readonly seconds: number;
}

function artifactsIn(dir: string): LlamaCppArtifacts {
  const venv = path.join(dir, 'venv');
  return { version: LLAMA_CPP_PYTHON_VERSION, venv, python: path.join(venv, 'bin', 'python') };
}

/** The cache folder of the pinned version; prepared when it holds the marker. */
export function llamaCppDir(): string {
  return path.join(cacheDir(), `llama-cpp-python-${LLAMA_CPP_PYTHON_VERSION}`);
}

function markerMatches(dir: string): boolean {
  try {
    const marker = JSON.parse(readFileSync(path.join(dir, MARKER), 'utf8')) as Partial<Marker>;
    return (
      marker.requirement === REQUIREMENT &&
      marker.cmakeArgs === CMAKE_ARGS &&
      marker.constraints === CONSTRAINTS
    );
  } catch {
    return false;
  }
}

function imports(python: string): boolean {
  const result = spawnSync(python, ['-c', 'import llama_cpp.server'], { stdio: 'ignore', timeout: 60_000 });
  return result.status === 0;
}

function usable(dir: string): boolean {
  const { python } = artifactsIn(dir);
  return markerMatches(dir) && existsSync(python) && imports(python);
}

/**
 * Creates `<cache>/llama-cpp-python-<version>/venv` with `$PYTHON` (default python3) and pip-installs the
 * pinned `llama-cpp-python[server]` into it. Built in a `.partial-<pid>` folder and renamed when complete:
 * a venv's console scripts keep the staging path in their shebangs, which is why only `venv/bin/python -m`
 * is ever run (the interpreter finds its venv from where it is invoked). pip's cache lives in the cache
 * folder, keyed by the build flags, because pip keys built wheels by the sdist alone and would otherwise
 * hand back a wheel compiled with other flags.
 */
export async function prepareLlamaCppServer(
  log: InfraLog = defaultInfraLog,
): Promise<LlamaCppArtifacts & { readonly built: boolean }> {
  const version = LLAMA_CPP_PYTHON_VERSION;
  const dir = llamaCppDir();
  if (usable(dir)) return { ...artifactsIn(dir), built: false };
  return withBuildLock(`llama-cpp-python-${version}`, log, async () => {
    if (usable(dir)) return { ...artifactsIn(dir), built: false };
    const started = Date.now();
    const basePython = process.env.PYTHON?.trim() || 'python3';
    log(
      `llama-cpp-python ${version}: pip compiles llama.cpp from the sdist (${CMAKE_ARGS}); 6-8 minutes the first time, seconds once pip's cache holds the wheel`,
    );
    const staging = `${dir}.partial-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    const { python } = artifactsIn(staging);
    const pipCache = path.join(
      cacheDir(),
      'pip',
      `llama-cpp-python-${createHash('sha256').update(CMAKE_ARGS).digest('hex').slice(0, 8)}`,
    );
    const constraints = path.join(staging, 'constraints.txt');
    writeFileSync(constraints, `${CONSTRAINTS}\n`);
    const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
    try {
      await runBuildCommand(
        {
          what: `llama-cpp-python ${version} (venv)`,
          command: basePython,
          args: ['-m', 'venv', path.join(staging, 'venv')],
          cwd: staging,
          env,
          logName: `llama-cpp-python-${version}-venv.log`,
          installHint:
            'llama-cpp-python needs Python 3.11+ with the venv module (Debian: apt-get install python3-venv); set PYTHON to use another interpreter.',
        },
        log,
      );
      await runBuildCommand(
        {
          what: `llama-cpp-python ${version} (pip builds llama.cpp: needs cmake and a C++ compiler)`,
          command: python,
          args: ['-m', 'pip', 'install', '--cache-dir', pipCache, '-c', constraints, REQUIREMENT],
          cwd: staging,
          // Set, not inherited: flags from the environment would end up in a cached build under this name.
          env: { ...env, CMAKE_ARGS },
          logName: `llama-cpp-python-${version}-build.log`,
          installHint: `the new venv has no ${python}`,
        },
        log,
      );
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      throw error;
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    const final = artifactsIn(dir);
    if (!imports(final.python)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `llama-cpp-python ${version}: installed, but \`${final.python} -c "import llama_cpp.server"\` fails after the move into the cache`,
      );
    }
    const marker: Marker = {
      requirement: REQUIREMENT,
      cmakeArgs: CMAKE_ARGS,
      constraints: CONSTRAINTS,
      basePython,
      preparedAt: new Date().toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
    };
    // Written last: a folder without it is an unfinished or foreign one, rebuilt on the next prepare.
    writeFileSync(path.join(dir, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    return { ...final, built: true };
  });
}

export interface LlamaCppStartOptions {
  /** A GGUF file. */
  readonly modelPath: string;
  /** The model id the server answers to (`--model_alias`). Default 'twin'. */
  readonly alias?: string;
  /** Threads for generation and for prompt processing. Default 1. */
  readonly threads?: number;
  /** Context window (`--n_ctx`). Default 2048. */
  readonly contextSize?: number;
  /** Port on 127.0.0.1; a free one by default. */
  readonly port?: number;
  /**
   * llama-cpp-python's `--interrupt_requests`: when on (its own default), any request that arrives while a
   * stream runs, GET /v1/models included, ends that stream with `data: [DONE]` and no finish reason.
   * Default false here, so that concurrent requests queue instead.
   */
  readonly interruptRequests?: boolean;
  readonly startTimeoutMs?: number;
  readonly log?: InfraLog;
}

export interface LlamaCppServer {
  /** Base URL including /v1, as OpenAI clients expect: http://127.0.0.1:PORT/v1 */
  readonly url: string;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly port: number;
  readonly pid: number;
  readonly alias: string;
  /** The llama-cpp-python version. */
  readonly version: string;
  readonly running: boolean;
  /** The end of the server's log, for failure messages. */
  logTail(lines?: number): string;
  /** SIGTERM (SIGKILL if it lingers), then deletes the server's temporary folder. */
  stop(): Promise<void>;
  /** SIGKILL: what a crash looks like to clients. stop() still cleans up afterwards. */
  kill(): Promise<void>;
}

/**
 * Starts llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with one GGUF model; resolves once
 * GET /v1/models answers 200 (the model is loaded before the server listens). Never builds: a missing
 * build fails at once and says to run `npm run infra:prepare`.
 */
export async function startLlamaCppServer(options: LlamaCppStartOptions): Promise<LlamaCppServer> {
  const log = options.log ?? defaultInfraLog;
  const dir = llamaCppDir();
  const { python, version } = artifactsIn(dir);
  if (!markerMatches(dir) || !existsSync(python)) {
    throw new Error(
      `llama-cpp-python ${version} is not prepared in ${dir}: run \`npm run infra:prepare\` (it compiles llama.cpp once, 6-8 minutes)`,
    );
  }
  if (!existsSync(options.modelPath)) {
    throw new Error(
      `llama.cpp server: no model file at ${options.modelPath} (the SmolLM2 GGUF comes from \`npm run models:prepare\`)`,
    );
  }
  const alias = options.alias ?? 'twin';
  const threads = String(options.threads ?? 1);
  const port = options.port ?? (await freePort());
  await assertPortFree(port, 'llama.cpp server');
  const { dir: runDir } = dataDirFor('llama-cpp', undefined);
  const started = Date.now();
  let proc: ManagedProcess;
  try {
    proc = await ManagedProcess.start(
      {
        name: 'llama-cpp',
        command: python,
        args: [
          '-m',
          'llama_cpp.server',
          '--model',
          options.modelPath,
          '--model_alias',
          alias,
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--n_threads',
          threads,
          // Its default is every core: on a shared two-core machine that makes prompt processing crawl.
          '--n_threads_batch',
          threads,
          '--n_ctx',
          String(options.contextSize ?? 2048),
          '--interrupt_requests',
          options.interruptRequests === true ? 'True' : 'False',
        ],
        env: { ...process.env, PYTHONUNBUFFERED: '1' },
        cwd: runDir,
        logFile: path.join(runDir, 'llama-cpp.log'),
        ownedDir: runDir,
      },
      log,
    );
  } catch (error) {
    removeOwnedDir(runDir);
    throw error;
  }
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      async () => {
        const res = await fetch(`${origin}/v1/models`, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        return res.status === 200;
      },
      {
        what: `llama.cpp server on 127.0.0.1:${port}`,
        timeoutMs: options.startTimeoutMs ?? 60_000,
        process: proc,
      },
    );
  } catch (error) {
    await proc.kill();
    removeOwnedDir(runDir);
    throw error;
  }
  log(
    `llama-cpp-python ${version} at ${origin}/v1 (model ${path.basename(options.modelPath)} as '${alias}', ${threads} thread(s)), ready in ${seconds(Date.now() - started)}`,
  );
  return {
    url: `${origin}/v1`,
    origin,
    port,
    pid: proc.pid,
    alias,
    version,
    get running() {
      return proc.running;
    },
    logTail: (lines) => proc.logTail(lines),
    async stop() {
      await proc.stop(10_000);
      removeOwnedDir(runDir);
    },
    kill: () => proc.kill(),
  };
}
