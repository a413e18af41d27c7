// Who may call what through the gateway: one entry per public RPC, so that a review reads the whole policy in
// one place and a new RPC without an entry is admin-only (and fails access-policy.test.ts).
//
//   any    any valid key; the method holds no author's data (stateless tools, the installation's status).
//   admin  admin keys only: methods that act on every author, or whose target's author cannot be checked.
//   author admin keys, or an author key on its own author's data: the request's author field is set to the
//          key's author when empty and refused (PermissionDenied) when it names another author; records
//          fetched by id that belong to another author answer NotFound, as if they did not exist.
//
// grpc.health.v1.Health and server reflection need no key (probes, grpcurl; the schema is public anyway).
import type { Client } from '@connectrpc/connect';
import { Code, ConnectError } from '@connectrpc/connect';
import type { ingestv1 } from '@llmtwin/contracts';

export type Access = 'any' | 'admin' | 'author';

/** Dotted paths of field local names (`filter.authorId`) in the request or response message. */
export interface MethodRule {
  access: Access;
  /** The request field naming the author: filled in or checked for author keys. */
  requestAuthor?: string;
  /**
   * The request field recording who acted (requested_by, reviewer, editor): the gateway stamps it with the
   * key that authorised the call, keeping a name the caller gave beside it, so history names a real key.
   */
  requestActor?: string;
  /** The response field naming the record's owner: another author's record answers NotFound. */
  responseOwner?: string;
  /** A repeated response field and the owner field of its items: other authors' items are left out. */
  responseItems?: { list: string; owner: string };
  /** Checks, before forwarding, that the record the request names by id belongs to the key's author. */
  precheck?: Precheck;
}

export interface PrecheckContext {
  authorId: string;
  ingest: Client<typeof ingestv1.IngestService>;
  signal: AbortSignal;
}
export type Precheck = (message: Record<string, unknown>, ctx: PrecheckContext) => Promise<void>;

const notFound = (what: string, id: string) => new ConnectError(`${what} ${id} not found`, Code.NotFound);

/** The source named by `field` is one of the author's own (ingest has no GetSource: page its list). */
const ownsSource =
  (field: string): Precheck =>
  async (message, ctx) => {
    const id = String(message[field] ?? '');
    let pageToken = '';
    do {
      const res = await ctx.ingest.listSources(
        { authorId: ctx.authorId, page: { pageSize: 500, pageToken } },
        { signal: ctx.signal },
      );
      if (res.sources.some((s) => s.id === id && s.authorId === ctx.authorId)) return;
      pageToken = res.page?.nextPageToken ?? '';
    } while (pageToken);
    throw notFound('source', id || '(empty id)');
  };

/** The document named by `field` belongs to the author. */
const ownsDocument =
  (field: string): Precheck =>
  async (message, ctx) => {
    const id = String(message[field] ?? '');
    const res = await ctx.ingest.getDocument({ id, omitRaw: true }, { signal: ctx.signal });
    if (res.document?.authorId !== ctx.authorId) throw notFound('document', id);
  };

/** CrawlNow names either a URL (with author_id, scoped like any request) or a registered source. */
const ownsCrawlTarget: Precheck = async (message, ctx) => {
  const target = message['target'] as { case?: string; value?: unknown } | undefined;
  if (target?.case === 'sourceId') await ownsSource('value')({ value: target.value }, ctx);
};

const any: MethodRule = { access: 'any' };
const admin: MethodRule = { access: 'admin' };
const author = (rule: Omit<MethodRule, 'access'>): MethodRule => ({ access: 'author', ...rule });

const ingest = 'llmtwin.ingest.v1.IngestService';
const clean = 'llmtwin.clean.v1.CleanService';
const chunk = 'llmtwin.chunk.v1.ChunkService';
const embed = 'llmtwin.embed.v1.EmbedService';
const registry = 'llmtwin.registry.v1.RegistryService';
const trainer = 'llmtwin.trainer.v1.TrainerService';
const inference = 'llmtwin.inference.v1.InferenceService';
const gateway = 'llmtwin.gateway.v1';

/** Keyed by `<service type name>/<method name>`. */
export const accessPolicy: Readonly<Record<string, MethodRule>> = {
  // Authors are created by admins; an author key is bound to an author that already exists.
  [`${ingest}/CreateAuthor`]: admin,
  [`${ingest}/GetAuthor`]: author({ requestAuthor: 'id' }),
  [`${ingest}/ListAuthors`]: admin,
  [`${ingest}/AddSource`]: author({ requestAuthor: 'authorId' }),
  [`${ingest}/ListSources`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'sources', owner: 'authorId' },
  }),
  [`${ingest}/RemoveSource`]: author({ precheck: ownsSource('id') }),
  [`${ingest}/PauseSource`]: author({ precheck: ownsSource('id') }),
  [`${ingest}/ResumeSource`]: author({ precheck: ownsSource('id') }),
  [`${ingest}/CrawlNow`]: author({ requestAuthor: 'authorId', precheck: ownsCrawlTarget }),
  [`${ingest}/ImportArchive`]: author({ requestAuthor: 'authorId' }),
  // Client streaming is not forwarded (proxy.routes.ts); POST /v1/archives scopes the author itself.
  [`${ingest}/UploadArchive`]: admin,
  [`${ingest}/GetCrawlJob`]: author({ responseOwner: 'job.authorId' }),
  [`${ingest}/ListCrawlJobs`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'jobs', owner: 'authorId' },
  }),
  [`${ingest}/GetDocument`]: author({ responseOwner: 'document.authorId' }),
  [`${ingest}/ListDocuments`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'documents', owner: 'authorId' },
  }),
  [`${ingest}/DeleteDocument`]: author({ precheck: ownsDocument('id') }),
  // Parses the page it is sent and stores nothing.
  [`${ingest}/ExtractPage`]: author({ requestAuthor: 'authorId' }),

  [`${clean}/GetCleanedDocument`]: author({ responseOwner: 'document.ref.authorId' }),
  [`${clean}/ListCleanedDocuments`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'documents', owner: 'ref.authorId' },
  }),
  // Pipeline maintenance: document_ids could name any author's documents.
  [`${clean}/Reprocess`]: admin,
  [`${clean}/CleanText`]: any,

  [`${chunk}/PreviewChunks`]: any,
  [`${chunk}/GetChunkingPolicy`]: any,

  [`${embed}/EmbedTexts`]: any,
  [`${embed}/GetEmbedderInfo`]: any,
  [`${embed}/SearchChunks`]: author({
    requestAuthor: 'filter.authorId',
    responseItems: { list: 'chunks', owner: 'ref.authorId' },
  }),
  // A reindex rebuilds and swaps the collection every author shares.
  [`${embed}/StartReindex`]: admin,
  [`${embed}/GetReindex`]: admin,

  // Writes and promotions are operators' work. Reads of one author's dataset versions, runs and model
  // versions are that author's; what may span authors (comparisons, transition history, lineage) is admin.
  [`${registry}/CreateDatasetVersion`]: admin,
  [`${registry}/GetDatasetVersion`]: author({ responseOwner: 'datasetVersion.authorId' }),
  [`${registry}/ListDatasetVersions`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'datasetVersions', owner: 'authorId' },
  }),
  [`${registry}/CreateRun`]: admin,
  [`${registry}/UpdateRun`]: admin,
  [`${registry}/GetRun`]: author({ responseOwner: 'run.authorId' }),
  [`${registry}/ListRuns`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'runs', owner: 'authorId' },
  }),
  [`${registry}/CompareRuns`]: admin,
  [`${registry}/RegisterModelVersion`]: admin,
  [`${registry}/GetModelVersion`]: author({ responseOwner: 'modelVersion.authorId' }),
  [`${registry}/ListModelVersions`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'modelVersions', owner: 'authorId' },
  }),
  [`${registry}/RequestStageTransition`]: { access: 'admin', requestActor: 'requestedBy' },
  [`${registry}/ReviewStageTransition`]: { access: 'admin', requestActor: 'reviewer' },
  [`${registry}/RollbackProduction`]: { access: 'admin', requestActor: 'reviewer' },
  [`${registry}/ListStageTransitions`]: admin,
  [`${registry}/SetModelAlias`]: admin,
  [`${registry}/GetLineage`]: admin,

  // Building writes into the registry and runs for minutes: operators only. Jobs name their author.
  [`${trainer}/BuildDataset`]: admin,
  // Training runs for minutes to hours on the installation's CPU or GPU and registers a model version: an
  // operator's decision, like a build. Its request names a dataset version, not an author, so an author key
  // could only be scoped by a registry lookup the gateway does not make; an author sees the job (GetJob).
  [`${trainer}/StartTraining`]: admin,
  [`${trainer}/CancelJob`]: admin,
  [`${trainer}/GetJob`]: author({ responseOwner: 'job.authorId' }),
  [`${trainer}/ListJobs`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'jobs', owner: 'authorId' },
  }),

  // The twin answers as the key's author and retrieves only that author's passages.
  [`${inference}/Generate`]: author({ requestAuthor: 'authorId' }),
  [`${inference}/GenerateStream`]: author({ requestAuthor: 'authorId' }),
  [`${inference}/Retrieve`]: author({ requestAuthor: 'authorId' }),
  [`${inference}/ListGenerations`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'generations', owner: 'authorId' },
  }),
  [`${inference}/GetGeneration`]: author({ responseOwner: 'generation.authorId' }),
  [`${inference}/ListModels`]: any,
  // The router itself refuses an edit of another author's generation for an author key (it reads the
  // x-llmtwin-author header this gateway sets), so nothing is written before the response check.
  [`${inference}/EditAnswer`]: author({ responseOwner: 'edit.authorId', requestActor: 'editor' }),
  [`${inference}/ListAnswerEdits`]: author({
    requestAuthor: 'authorId',
    responseItems: { list: 'edits', owner: 'authorId' },
  }),

  // Health of every service and backend; no documents.
  [`${gateway}.StatusService/GetStatus`]: any,
  [`${gateway}.StatusService/GetCaller`]: any,
  [`${gateway}.PipelineService/ListDeadLetters`]: admin,
  [`${gateway}.PipelineService/ReplayDeadLetters`]: admin,
  [`${gateway}.PipelineService/ListAlerts`]: admin,
  [`${gateway}.AdminService/CreateApiKey`]: admin,
  [`${gateway}.AdminService/ListApiKeys`]: admin,
  [`${gateway}.AdminService/RevokeApiKey`]: admin,
};

/** Services anyone may call without a key. */
export const openServices: ReadonlySet<string> = new Set([
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
]);

/** What applies to a method missing from the table: nothing slips through by being new. */
export const defaultRule: MethodRule = admin;

export const ruleFor = (typeName: string, methodName: string): MethodRule =>
  accessPolicy[`${typeName}/${methodName}`] ?? defaultRule;
