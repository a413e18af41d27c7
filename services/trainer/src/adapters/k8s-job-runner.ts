// The Kubernetes job runner: each training job is a batch/v1 Job rendered from a template
// (deploy/base/trainer/training-job/training-job.yaml: image, GPU node selector and tolerations, the
// nvidia.com/gpu resource, the shared training volume and the model cache), created through the Kubernetes
// API with the trainer's service account (role.yaml allows Jobs, and pods' status and logs). The spec goes
// in a ConfigMap owned by the Job (so it goes when the Job goes), mounted at /etc/llmtwin/spec.
//
// The job's work dir must be on the volume the trainer and the Jobs share (the PVC trainer-training, mounted
// at the same path in both): the trainer fetches the splits into it and stores the adapter from it, exactly
// as with the process runner. The protocol's events are read from the pod's log (follow=true); the exit from
// the container's terminated state. Cancel deletes the Job (foreground, with a grace period): the pod gets
// SIGTERM and the job saves a checkpoint.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { DomainError } from '@llmtwin/runtime/errors';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import {
  lines,
  parseJobEvent,
  type JobEvent,
  type JobExit,
  type JobRunner,
  type RunningJob,
  type StartOptions,
  type TrainingSpec,
} from '../domain/job-runner.port.js';

/** The subset of batch/v1 Job the renderer touches. */
export interface JobManifest {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    backoffLimit?: number;
    template: {
      metadata?: { labels?: Record<string, string> };
      spec: {
        containers: {
          name: string;
          image?: string;
          command?: string[];
          args?: string[];
          env?: { name: string; value?: string }[];
          volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
        }[];
        volumes?: { name: string; configMap?: { name: string } }[];
        [k: string]: unknown;
      };
    };
    [k: string]: unknown;
  };
}

export const TRAIN_CONTAINER = 'train';
export const SPEC_MOUNT = '/etc/llmtwin/spec';
const RUN_LABEL = 'llmtwin.dev/run-id';

/** Kubernetes names: lowercase alphanumerics and '-', at most 63, starting and ending alphanumeric. */
export const jobName = (runId: string) =>
  `llmtwin-train-${runId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');

/**
 * The Job for one run: the template with its name, labels, image, command, environment and the spec's
 * ConfigMap volume filled in. Everything else (GPU nodes, resources, volumes) is the template's.
 */
export function renderTrainingJob(
  template: JobManifest,
  spec: TrainingSpec,
  options: { image?: string; env: Record<string, string> },
): JobManifest {
  const job = structuredClone(template);
  const name = jobName(spec.runId);
  const labels = {
    'app.kubernetes.io/component': 'training-job',
    [RUN_LABEL]: name.slice('llmtwin-train-'.length),
  };
  job.metadata = { ...job.metadata, name, labels: { ...job.metadata.labels, ...labels } };
  job.spec.backoffLimit = 0; // a failed run is resumed on purpose (resume_run_id), never retried blindly
  const pod = job.spec.template;
  pod.metadata = { ...pod.metadata, labels: { ...pod.metadata?.labels, ...labels } };
  const container = pod.spec.containers.find((c) => c.name === TRAIN_CONTAINER);
  if (!container)
    throw new DomainError(
      'failed-precondition',
      `the training Job template has no container named "${TRAIN_CONTAINER}": name the job's container so`,
    );
  if (options.image) container.image = options.image;
  container.command = ['python', '-m', 'llmtwin_train', 'train', '--spec', `${SPEC_MOUNT}/spec.json`];
  delete container.args;
  const env = new Map((container.env ?? []).map((e) => [e.name, e]));
  for (const [k, v] of Object.entries({ ...options.env, LLMTWIN_RUN_ID: spec.runId, PYTHONUNBUFFERED: '1' }))
    env.set(k, { name: k, value: v });
  container.env = [...env.values()];
  container.volumeMounts = [
    ...(container.volumeMounts ?? []).filter((m) => m.name !== 'spec'),
    { name: 'spec', mountPath: SPEC_MOUNT, readOnly: true },
  ];
  pod.spec.volumes = [
    ...(pod.spec.volumes ?? []).filter((v) => v.name !== 'spec'),
    { name: 'spec', configMap: { name } },
  ];
  return job;
}

export interface KubernetesApiOptions {
  /** https://host:port (in cluster: KUBERNETES_SERVICE_HOST/PORT) or http://… (a local proxy, the tests). */
  url: string;
  /** The bearer token, read at each call (projected service account tokens rotate). */
  token: () => Promise<string>;
  /** The API server's CA (PEM); none = the system's. */
  ca?: Buffer | undefined;
}

interface ApiResponse {
  status: number;
  body: unknown;
}

/** A minimal Kubernetes API client: JSON requests and a streamed pod log. */
export class KubernetesApi {
  constructor(private readonly o: KubernetesApiOptions) {}

  private async open(method: string, path: string, body?: unknown): Promise<http.IncomingMessage> {
    const url = new URL(path, this.o.url);
    const token = await this.o.token();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method,
          headers: {
            accept: 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          ...(url.protocol === 'https:' && this.o.ca ? { ca: this.o.ca } : {}),
        },
        resolve,
      );
      req.on('error', (err) =>
        reject(
          new DomainError(
            'unavailable',
            `the Kubernetes API at ${this.o.url} is unreachable: ${err.message}`,
            { cause: err },
          ),
        ),
      );
      req.end(payload);
    });
  }

  async call(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const res = await this.open(method, path, body);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // a plain-text answer (a proxy's error page): kept as text for the message
    }
    return { status: res.statusCode ?? 0, body: parsed };
  }

  /** The call's body, or a DomainError naming the request and the API's message. */
  async ok(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await this.call(method, path, body);
    if (res.status >= 200 && res.status < 300) return (res.body ?? {}) as Record<string, unknown>;
    const message =
      typeof res.body === 'object' && res.body && 'message' in res.body
        ? String((res.body as { message: unknown }).message)
        : String(res.body);
    const kind =
      res.status === 404
        ? 'not-found'
        : res.status === 409
          ? 'already-exists'
          : res.status === 403
            ? 'permission-denied'
            : 'unavailable';
    throw new DomainError(kind, `Kubernetes API ${method} ${path}: ${String(res.status)} ${message}`);
  }

  /** The container's log as it is written, until the container ends. */
  async follow(path: string): Promise<Readable> {
    const res = await this.open('GET', path);
    if ((res.statusCode ?? 0) >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw new DomainError(
        'unavailable',
        `Kubernetes API GET ${path}: ${String(res.statusCode)} ${Buffer.concat(chunks).toString('utf8')}`,
      );
    }
    return res;
  }
}

export interface KubernetesJobRunnerOptions {
  api: KubernetesApi;
  namespace: string;
  template: JobManifest;
  /** Overrides the template's image; empty keeps it. */
  image?: string;
  /** Given to every Job (the registry's and the artifact store's addresses). */
  env: Record<string, string>;
  /** Seconds a cancelled Job's pod has to save its checkpoint. */
  graceSeconds: number;
  /** How often the pod's state is looked at while it starts and after its log ends (default 2000 ms). */
  pollMs?: number;
  logger: Logger;
}

interface ContainerStatus {
  name: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    terminated?: { exitCode: number; signal?: number; reason?: string };
  };
}
interface PodStatus {
  phase?: string;
  containerStatuses?: ContainerStatus[];
}

const SIGNALS: Record<number, string> = {
  9: 'SIGKILL',
  15: 'SIGTERM',
  6: 'SIGABRT',
  11: 'SIGSEGV',
  2: 'SIGINT',
};
/** Waiting reasons that never resolve on their own: the Job is reported failed instead of waited on. */
const STUCK = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError']);

/** A terminated container's exit, in a process's words: 137 is SIGKILL (the OOM killer's, or a kill -9). */
export function exitOf(t: { exitCode: number; signal?: number; reason?: string }): JobExit {
  if (t.signal) return { code: null, signal: SIGNALS[t.signal] ?? `signal ${String(t.signal)}` };
  if (t.exitCode > 128 && SIGNALS[t.exitCode - 128] && t.exitCode !== 143)
    return {
      code: null,
      signal: SIGNALS[t.exitCode - 128]! + (t.reason === 'OOMKilled' ? ' (OOMKilled)' : ''),
    };
  return { code: t.exitCode, signal: null };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class KubernetesJobRunner implements JobRunner {
  readonly kind = 'kubernetes';
  private readonly running = new Set<RunningJob>();

  constructor(private readonly o: KubernetesJobRunnerOptions) {}

  /** From the trainer's config: the in-cluster API and service account unless told otherwise. */
  static async fromConfig(
    c: {
      LLMTWIN_TRAINER_K8S_API_URL: string;
      LLMTWIN_TRAINER_K8S_NAMESPACE: string;
      LLMTWIN_TRAINER_K8S_TOKEN_FILE: string;
      LLMTWIN_TRAINER_K8S_CA_FILE: string;
      LLMTWIN_TRAINER_K8S_JOB_TEMPLATE: string;
      LLMTWIN_TRAINER_K8S_IMAGE: string;
      LLMTWIN_TRAINER_CANCEL_GRACE_MS: number;
      KUBERNETES_SERVICE_HOST?: string | undefined;
      KUBERNETES_SERVICE_PORT?: string | undefined;
      LLMTWIN_REGISTRY_URL: string;
      LLMTWIN_ARTIFACT_STORE_URL: string;
    },
    logger: Logger,
  ): Promise<KubernetesJobRunner> {
    const url =
      c.LLMTWIN_TRAINER_K8S_API_URL ||
      (c.KUBERNETES_SERVICE_HOST
        ? `https://${c.KUBERNETES_SERVICE_HOST.includes(':') ? `[${c.KUBERNETES_SERVICE_HOST}]` : c.KUBERNETES_SERVICE_HOST}:${c.KUBERNETES_SERVICE_PORT ?? '443'}`
        : '');
    if (!url)
      throw new DomainError(
        'failed-precondition',
        'LLMTWIN_TRAINER_RUNNER=kubernetes but this is not a pod (no KUBERNETES_SERVICE_HOST) and LLMTWIN_TRAINER_K8S_API_URL is empty: set it',
      );
    const namespace =
      c.LLMTWIN_TRAINER_K8S_NAMESPACE ||
      (
        await readFile('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').catch(() => '')
      ).trim();
    if (!namespace)
      throw new DomainError(
        'failed-precondition',
        'LLMTWIN_TRAINER_K8S_NAMESPACE is empty and this pod has no service account namespace: set it',
      );
    const template = parseTemplate(
      await readFile(c.LLMTWIN_TRAINER_K8S_JOB_TEMPLATE, 'utf8').catch((err: unknown) => {
        throw new DomainError(
          'failed-precondition',
          `LLMTWIN_TRAINER_K8S_JOB_TEMPLATE=${c.LLMTWIN_TRAINER_K8S_JOB_TEMPLATE} cannot be read: ${(err as Error).message}`,
        );
      }),
    );
    const ca = c.LLMTWIN_TRAINER_K8S_CA_FILE
      ? await readFile(c.LLMTWIN_TRAINER_K8S_CA_FILE).catch(() => undefined)
      : undefined;
    const tokenFile = c.LLMTWIN_TRAINER_K8S_TOKEN_FILE;
    return new KubernetesJobRunner({
      api: new KubernetesApi({
        url,
        token: async () => (tokenFile ? (await readFile(tokenFile, 'utf8').catch(() => '')).trim() : ''),
        ca,
      }),
      namespace,
      template,
      image: c.LLMTWIN_TRAINER_K8S_IMAGE,
      env: {
        LLMTWIN_REGISTRY_URL: c.LLMTWIN_REGISTRY_URL,
        LLMTWIN_ARTIFACT_STORE_URL: c.LLMTWIN_ARTIFACT_STORE_URL,
      },
      graceSeconds: Math.ceil(c.LLMTWIN_TRAINER_CANCEL_GRACE_MS / 1000),
      logger,
    });
  }

  async start(spec: TrainingSpec, o: StartOptions): Promise<RunningJob> {
    const { api, namespace: ns } = this.o;
    const manifest = renderTrainingJob(this.o.template, spec, {
      ...(this.o.image ? { image: this.o.image } : {}),
      env: { ...this.o.env, ...o.env },
    });
    const name = manifest.metadata.name!;
    const created = await api.ok('POST', `/apis/batch/v1/namespaces/${ns}/jobs`, manifest);
    const uid = String((created['metadata'] as { uid?: string } | undefined)?.uid ?? '');
    // Owned by the Job: deleting the Job (cancel, or its TTL) deletes the spec too.
    await api.ok('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        labels: manifest.metadata.labels,
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid, blockOwnerDeletion: true }],
      },
      data: { 'spec.json': JSON.stringify(spec, null, 2) },
    });
    o.onStarted?.(`Job ${ns}/${name}`);
    const logger = this.o.logger.child({ runId: spec.runId, job: name });
    const log = createWriteStream(o.logFile, { flags: 'a' });
    const pollMs = this.o.pollMs ?? 2000;
    let cancelled = false;
    let podName: string | undefined;
    let stuck: string | undefined;

    const pod = async (): Promise<{ name: string; status: PodStatus } | undefined> => {
      const list = await api.ok(
        'GET',
        `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`job-name=${name}`)}`,
      );
      const item = ((list['items'] as { metadata: { name: string }; status?: PodStatus }[] | undefined) ??
        [])[0];
      return item ? { name: item.metadata.name, status: item.status ?? {} } : undefined;
    };
    const train = (s: PodStatus) => s.containerStatuses?.find((c) => c.name === TRAIN_CONTAINER);

    async function* events(): AsyncGenerator<JobEvent> {
      // Wait for the pod to run (image pull, a GPU node to scale up), then follow its log.
      for (;;) {
        if (cancelled) return;
        const p = await pod().catch((err: unknown) => {
          logger.warn({ err }, 'pod lookup failed');
          return undefined;
        });
        const waiting = p && train(p.status)?.state?.waiting;
        if (waiting?.reason && STUCK.has(waiting.reason)) {
          stuck = `${waiting.reason}: ${waiting.message ?? ''}`.trim();
          return;
        }
        if (p && p.status.phase && p.status.phase !== 'Pending') {
          podName = p.name;
          break;
        }
        await sleep(pollMs);
      }
      const stream = await api.follow(
        `/api/v1/namespaces/${ns}/pods/${podName}/log?container=${TRAIN_CONTAINER}&follow=true`,
      );
      for await (const line of lines(stream.on('data', (c: Buffer) => log.write(c)))) {
        const event = parseJobEvent(line);
        if (event) yield event;
        else if (line.trim()) logger.debug({ line: line.slice(0, 500) }, 'training job: not a protocol line');
      }
    }

    let resolveExit!: (e: JobExit) => void;
    const exit = new Promise<JobExit>((r) => (resolveExit = r));
    const iterator = events();
    const ended = () =>
      this.exitOf(
        name,
        pod,
        train,
        () => cancelled,
        () => stuck,
        pollMs,
        logger,
      );
    async function* withExit(): AsyncGenerator<JobEvent> {
      try {
        yield* iterator;
      } finally {
        resolveExit(await ended());
        log.end();
      }
    }

    const job: RunningJob = {
      events: withExit(),
      exit,
      cancel: async () => {
        cancelled = true;
        await api
          // DeleteOptions as query parameters (a DELETE body is dropped by some proxies).
          .ok(
            'DELETE',
            `/apis/batch/v1/namespaces/${ns}/jobs/${name}?propagationPolicy=Foreground&gracePeriodSeconds=${String(this.o.graceSeconds)}`,
          )
          .catch((err: unknown) => {
            if (!(err instanceof DomainError && err.kind === 'not-found')) throw err;
          });
        return exit;
      },
    };
    this.running.add(job);
    void exit.then(() => this.running.delete(job));
    return job;
  }

  /** How the container ended, once its log has: looked up until the pod reports it. */
  private async exitOf(
    name: string,
    pod: () => Promise<{ name: string; status: PodStatus } | undefined>,
    train: (s: PodStatus) => ContainerStatus | undefined,
    cancelled: () => boolean,
    stuck: () => string | undefined,
    pollMs: number,
    logger: Logger,
  ): Promise<JobExit> {
    if (stuck()) {
      logger.warn({ reason: stuck() }, 'the training pod cannot start');
      await this.o.api
        .ok('DELETE', `/apis/batch/v1/namespaces/${this.o.namespace}/jobs/${name}`)
        .catch(() => undefined);
      return { code: 125, signal: null };
    }
    for (let i = 0; i < 150; i++) {
      const p = await pod().catch(() => undefined);
      if (!p)
        return cancelled()
          ? { code: null, signal: 'SIGTERM' }
          : { code: null, signal: 'SIGKILL (the pod is gone)' };
      const t = train(p.status)?.state?.terminated;
      if (t) return exitOf(t);
      await sleep(pollMs);
    }
    return { code: null, signal: 'unknown (the pod never reported its end)' };
  }

  async close(): Promise<void> {
    // Jobs outlive the trainer on purpose: a restart fails their runs (resumable), the Jobs finish or are
    // deleted by their TTL. Nothing to stop here.
    this.running.clear();
  }
}

/** The template file (YAML or JSON) as a Job; says what is wrong when it is not one. */
export function parseTemplate(text: string): JobManifest {
  const doc = parseYaml(text) as Partial<JobManifest> | null;
  if (doc?.apiVersion !== 'batch/v1' || doc.kind !== 'Job' || !doc.spec?.template?.spec?.containers)
    throw new DomainError(
      'failed-precondition',
      'the training Job template is not a batch/v1 Job with a pod template',
    );
  return doc as JobManifest;
}
