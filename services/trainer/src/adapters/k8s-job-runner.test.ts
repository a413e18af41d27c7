// The Kubernetes job runner against FakeKubernetesApi: an HTTP server that exists only to record the requests
// the runner makes (the Job, the spec's ConfigMap, the pod lookups, the log follow, the delete) and to stream
// log lines as a pod would. There is no cluster here; the template itself is validated by
// scripts/render-manifests.sh (deploy/training-job), and rendered per run here from the same file.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { JobEvent, TrainingSpec } from '../domain/job-runner.port.js';
import { PRESETS } from '../domain/presets.js';
import {
  KubernetesApi,
  KubernetesJobRunner,
  exitOf,
  jobName,
  parseTemplate,
  renderTrainingJob,
  type JobManifest,
} from './k8s-job-runner.js';

const templateFile = fileURLToPath(
  new URL('../../../../deploy/base/trainer/training-job/training-job.yaml', import.meta.url),
);
const logger = pino({ level: 'silent' });

const spec = (runId: string): TrainingSpec => ({
  runId,
  workDir: `/var/lib/llmtwin/training/${runId}`,
  baseModel: 'Qwen/Qwen2.5-7B-Instruct',
  sft: {
    train: `/var/lib/llmtwin/training/${runId}/data/train.jsonl`,
    eval: `/var/lib/llmtwin/training/${runId}/data/test.jsonl`,
  },
  dpo: null,
  hyper: PRESETS['gpu-7b-8b'].hyper,
  resume: false,
  outputs: { ggufLora: true, merged: false },
  threads: 4,
});

interface Recorded {
  method: string;
  url: string;
  auth: string | undefined;
  body: unknown;
}

/** A fake of the Kubernetes API: records requests, plays one pod through Pending → Running → terminated. */
class FakeKubernetesApi {
  readonly requests: Recorded[] = [];
  server!: http.Server;
  /** What the pod's log says, line by line. */
  logLines: string[] = [];
  /** Keep the log open until the Job is deleted (a long run). */
  holdLog = false;
  exitCode = 0;
  waitingReason: string | undefined;
  private lookups = 0;
  private deleted = false;
  private openLog: http.ServerResponse | undefined;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${String((this.server.address() as AddressInfo).port)}`;
  }

  close() {
    this.openLog?.end();
    return new Promise<void>((r) => this.server.close(() => r()));
  }

  private json(res: http.ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, text: string) {
    const url = req.url ?? '';
    this.requests.push({
      method: req.method ?? '',
      url,
      auth: req.headers.authorization,
      body: text ? (JSON.parse(text) as unknown) : undefined,
    });
    if (req.headers.authorization !== 'Bearer sa-token')
      return this.json(res, 401, { kind: 'Status', message: 'Unauthorized' });
    if (req.method === 'POST' && url === '/apis/batch/v1/namespaces/llmtwin/jobs') {
      const job = JSON.parse(text) as JobManifest;
      return this.json(res, 201, { ...job, metadata: { ...job.metadata, uid: 'uid-1' } });
    }
    if (req.method === 'POST' && url === '/api/v1/namespaces/llmtwin/configmaps')
      return this.json(res, 201, JSON.parse(text));
    if (req.method === 'GET' && url.startsWith('/api/v1/namespaces/llmtwin/pods?labelSelector=job-name%3D')) {
      this.lookups++;
      if (this.deleted && !this.holdLog) return this.json(res, 200, { items: [] });
      const ended = this.openLog === undefined && this.lookups > 2;
      const status = this.waitingReason
        ? {
            phase: 'Pending',
            containerStatuses: [
              { name: 'train', state: { waiting: { reason: this.waitingReason, message: 'no such image' } } },
            ],
          }
        : this.lookups === 1
          ? { phase: 'Pending' }
          : ended && this.logServed
            ? {
                phase: this.exitCode === 0 ? 'Succeeded' : 'Failed',
                containerStatuses: [
                  { name: 'train', state: { terminated: { exitCode: this.exitCode, reason: 'Error' } } },
                ],
              }
            : { phase: 'Running', containerStatuses: [{ name: 'train', state: { running: {} } }] };
      return this.json(res, 200, { items: [{ metadata: { name: 'pod-1' }, status }] });
    }
    if (
      req.method === 'GET' &&
      url === '/api/v1/namespaces/llmtwin/pods/pod-1/log?container=train&follow=true'
    ) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (const line of this.logLines) res.write(`${line}\n`);
      this.logServed = true;
      if (this.holdLog) this.openLog = res;
      else res.end();
      return;
    }
    if (req.method === 'DELETE' && url.startsWith('/apis/batch/v1/namespaces/llmtwin/jobs/')) {
      this.deleted = true;
      this.exitCode = 143; // the job's own exit on SIGTERM, after its checkpoint
      const log = this.openLog;
      this.openLog = undefined;
      log?.end('{"event": "checkpoint", "phase": "sft", "step": 3, "path": "/x"}\n');
      return this.json(res, 200, { kind: 'Status', status: 'Success' });
    }
    return this.json(res, 404, { kind: 'Status', message: `no route ${req.method ?? ''} ${url}` });
  }
  logServed = false;
}

describe('renderTrainingJob (the repo template)', () => {
  it('fills in the name, labels, command, environment and the spec volume, and keeps the GPU settings', async () => {
    const template = parseTemplate(await readFile(templateFile, 'utf8'));
    const job = renderTrainingJob(template, spec('run_0ABC_1'), {
      image: 'registry.example.com/llmtwin-trainer-job:1.2',
      env: { LLMTWIN_REGISTRY_URL: 'http://registry:8080' },
    });
    expect(job.metadata.name).toBe('llmtwin-train-run-0abc-1');
    expect(job.metadata.labels).toMatchObject({
      'app.kubernetes.io/component': 'training-job',
      'llmtwin.dev/run-id': 'run-0abc-1',
    });
    expect(job.spec.backoffLimit).toBe(0);
    const pod = job.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.image).toBe('registry.example.com/llmtwin-trainer-job:1.2');
    expect(c.command).toEqual([
      'python',
      '-m',
      'llmtwin_train',
      'train',
      '--spec',
      '/etc/llmtwin/spec/spec.json',
    ]);
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'HF_HOME', value: '/var/cache/huggingface' },
        { name: 'LLMTWIN_REGISTRY_URL', value: 'http://registry:8080' },
        { name: 'LLMTWIN_RUN_ID', value: 'run_0ABC_1' },
      ]),
    );
    expect(c.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'spec', mountPath: '/etc/llmtwin/spec', readOnly: true },
        { name: 'training', mountPath: '/var/lib/llmtwin/training' },
      ]),
    );
    expect(pod.volumes).toEqual(
      expect.arrayContaining([{ name: 'spec', configMap: { name: 'llmtwin-train-run-0abc-1' } }]),
    );
    expect(pod['nodeSelector']).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(JSON.stringify(c)).toContain('"nvidia.com/gpu":"1"');
    // The template itself is not changed (one render per run).
    expect(template.metadata.name).toBe('llmtwin-train-template');
  });

  it('refuses a template without a container named train', () => {
    const template = parseTemplate(
      'apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{name: main, image: x}]\n',
    );
    expect(() => renderTrainingJob(template, spec('run_1'), { env: {} })).toThrow(
      /no container named "train"/,
    );
    expect(() => parseTemplate('kind: Deployment')).toThrow(/not a batch\/v1 Job/);
  });

  it('keeps Job names within 63 characters', () => {
    expect(jobName(`run_${'x'.repeat(80)}`).length).toBeLessThanOrEqual(63);
  });

  it('reads a terminated container as a process exit: 137 is SIGKILL, 143 the job’s own exit on SIGTERM', () => {
    expect(exitOf({ exitCode: 137, reason: 'OOMKilled' })).toEqual({
      code: null,
      signal: 'SIGKILL (OOMKilled)',
    });
    expect(exitOf({ exitCode: 143 })).toEqual({ code: 143, signal: null });
    expect(exitOf({ exitCode: 1 })).toEqual({ code: 1, signal: null });
    expect(exitOf({ exitCode: 0, signal: 9 })).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

describe('KubernetesJobRunner (FakeKubernetesApi)', () => {
  let fake: FakeKubernetesApi;
  let dir: string;
  let runner: KubernetesJobRunner;

  beforeEach(async () => {
    fake = new FakeKubernetesApi();
    const url = await fake.start();
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-k8s-runner-'));
    runner = new KubernetesJobRunner({
      api: new KubernetesApi({ url, token: () => Promise.resolve('sa-token') }),
      namespace: 'llmtwin',
      template: parseTemplate(await readFile(templateFile, 'utf8')),
      env: { LLMTWIN_REGISTRY_URL: 'http://registry:8080', LLMTWIN_ARTIFACT_STORE_URL: 's3://bucket' },
      graceSeconds: 90,
      pollMs: 5,
      logger,
    });
  });
  afterEach(async () => {
    await runner.close();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  const collect = async (events: AsyncIterable<JobEvent>) => {
    const out: JobEvent[] = [];
    for await (const e of events) out.push(e);
    return out;
  };

  it('creates the Job and its spec ConfigMap, follows the pod log for events and reports the exit', async () => {
    fake.logLines = [
      '{"event": "start", "pid": 1, "hardware": {"accelerator": "cuda"}, "totalSteps": 2, "resumedFrom": null}',
      'Loading checkpoint shards: 100%',
      '{"event": "metrics", "phase": "sft", "step": 1, "totalSteps": 2, "metrics": {"loss": 2.5}}',
      '{"event": "done", "steps": 2, "trainTokens": 10, "trainSeconds": 1, "tokensPerSecond": 10}',
    ];
    const logFile = path.join(dir, 'job.log');
    const started: string[] = [];
    const job = await runner.start(spec('run_1'), {
      workDir: dir,
      env: { HF_HUB_OFFLINE: '1' },
      logFile,
      onStarted: (w) => started.push(w),
    });
    const events = await collect(job.events);
    expect(events.map((e) => e.event)).toEqual(['start', 'metrics', 'done']);
    expect(await job.exit).toEqual({ code: 0, signal: null });
    expect(started).toEqual(['Job llmtwin/llmtwin-train-run-1']);

    const [createJob, createSpec] = fake.requests;
    expect(createJob!.auth).toBe('Bearer sa-token');
    const manifest = createJob!.body as JobManifest;
    expect(manifest.metadata.name).toBe('llmtwin-train-run-1');
    expect(manifest.spec.template.spec.containers[0]!.env).toEqual(
      expect.arrayContaining([
        { name: 'LLMTWIN_ARTIFACT_STORE_URL', value: 's3://bucket' },
        { name: 'HF_HUB_OFFLINE', value: '1' },
      ]),
    );
    expect(createSpec!.url).toBe('/api/v1/namespaces/llmtwin/configmaps');
    const cm = createSpec!.body as {
      metadata: { name: string; ownerReferences: { kind: string; uid: string }[] };
      data: Record<string, string>;
    };
    expect(cm.metadata.name).toBe('llmtwin-train-run-1');
    expect(cm.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', uid: 'uid-1' })]);
    expect(JSON.parse(cm.data['spec.json']!)).toEqual(spec('run_1'));
    // Every line of the pod's log, protocol or not, is in the job's log file.
    await new Promise((r) => setTimeout(r, 20));
    expect(await readFile(logFile, 'utf8')).toContain('Loading checkpoint shards: 100%');
  });

  it('reports a container killed with exit code 137 as SIGKILL', async () => {
    fake.exitCode = 137;
    fake.logLines = ['{"event": "phase", "phase": "sft"}'];
    const job = await runner.start(spec('run_2'), {
      workDir: dir,
      env: {},
      logFile: path.join(dir, 'job.log'),
    });
    await collect(job.events);
    expect(await job.exit).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('cancels by deleting the Job in the foreground with the grace period', async () => {
    fake.holdLog = true;
    fake.logLines = ['{"event": "phase", "phase": "sft"}'];
    const job = await runner.start(spec('run_3'), {
      workDir: dir,
      env: {},
      logFile: path.join(dir, 'job.log'),
    });
    const seen: JobEvent[] = [];
    const consumed = (async () => {
      for await (const e of job.events) {
        seen.push(e);
        if (e.event === 'phase') void job.cancel();
      }
    })();
    await consumed;
    expect(await job.exit).toEqual({ code: 143, signal: null });
    expect(seen.map((e) => e.event)).toEqual(['phase', 'checkpoint']);
    const del = fake.requests.find((r) => r.method === 'DELETE')!;
    expect(del.url).toBe(
      '/apis/batch/v1/namespaces/llmtwin/jobs/llmtwin-train-run-3?propagationPolicy=Foreground&gracePeriodSeconds=90',
    );
  });

  it('gives up on a pod whose image cannot be pulled, deleting the Job', async () => {
    fake.waitingReason = 'ImagePullBackOff';
    const job = await runner.start(spec('run_4'), {
      workDir: dir,
      env: {},
      logFile: path.join(dir, 'job.log'),
    });
    expect(await collect(job.events)).toEqual([]);
    expect(await job.exit).toEqual({ code: 125, signal: null });
    expect(fake.requests.some((r) => r.method === 'DELETE')).toBe(true);
  });

  it('says which call failed and why when the API refuses', async () => {
    const refusing = new KubernetesJobRunner({
      api: new KubernetesApi({
        url: `http://127.0.0.1:${String((fake.server.address() as AddressInfo).port)}`,
        token: () => Promise.resolve('wrong'),
      }),
      namespace: 'llmtwin',
      template: parseTemplate(await readFile(templateFile, 'utf8')),
      env: {},
      graceSeconds: 1,
      logger,
    });
    await expect(
      refusing.start(spec('run_5'), { workDir: dir, env: {}, logFile: path.join(dir, 'job.log') }),
    ).rejects.toThrow('Kubernetes API POST /apis/batch/v1/namespaces/llmtwin/jobs: 401 Unauthorized');
  });
});
