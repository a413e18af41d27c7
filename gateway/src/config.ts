import { baseConfigSchema, intVar, listVar, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

const serviceUrl = (name: string) =>
  z.url({ protocol: /^https?$/ }).describe(`address of the ${name} service, e.g. http://${name}:8080`);

const KEY_EXPECTED = 'expected lt_ followed by at least 32 base64url characters';

/** The gateway's security settings; embedded mode (`llmtwin up`) reads the same variables. */
export const securityConfigSchema = z.object({
  LLMTWIN_GATEWAY_RATE_LIMIT_PER_MINUTE: intVar({ min: 1, max: 1_000_000 })
    .default(600)
    .describe('requests per minute per API key, for keys created without a limit of their own'),
  LLMTWIN_GATEWAY_MAX_REQUEST_BYTES: intVar({ min: 1024, max: 256 * 1024 * 1024 })
    .default(1024 * 1024)
    .describe('largest request body accepted (Connect, gRPC, gRPC-Web and the plain HTTP routes)'),
  LLMTWIN_GATEWAY_MAX_UPLOAD_BYTES: intVar({ min: 1024, max: 1024 * 1024 * 1024 })
    .default(32 * 1024 * 1024)
    .describe('largest request to the upload methods (ImportArchive, ExtractPage), which carry whole files'),
  LLMTWIN_GATEWAY_CORS_ORIGINS: listVar()
    .default([])
    .describe(
      'origins browsers may call the gateway from, comma-separated (https://app.example.com), or *; empty: no CORS',
    ),
  LLMTWIN_GATEWAY_KEY_CACHE_TTL_MS: intVar({ min: 0, max: 60_000 })
    .default(5000)
    .describe('how long a looked-up API key is trusted: a revocation reaches other replicas within it'),
  LLMTWIN_GATEWAY_BOOTSTRAP_ADMIN_KEY: z
    .string({ error: KEY_EXPECTED })
    .regex(/^lt_[A-Za-z0-9_-]{32,200}$/, { error: KEY_EXPECTED })
    .optional()
    .describe(
      'an admin API key made to exist (stored hashed) at start, so a new installation can create keys: ' +
        "generate one with `node -e \"console.log('lt_'+crypto.randomBytes(32).toString('base64url'))\"`, " +
        'keep it in a Secret, and revoke it (llmtwin keys revoke) once real admin keys exist',
    ),
});

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_INGEST_URL: serviceUrl('ingest'),
  LLMTWIN_CLEAN_URL: serviceUrl('clean'),
  LLMTWIN_CHUNK_URL: serviceUrl('chunk'),
  LLMTWIN_EMBED_URL: serviceUrl('embed'),
  LLMTWIN_REGISTRY_URL: serviceUrl('registry'),
  LLMTWIN_TRAINER_URL: serviceUrl('trainer'),
  LLMTWIN_INFERENCE_ROUTER_URL: serviceUrl('inference-router'),
  /** Holds the API keys (collection api_keys, hashes only). */
  LLMTWIN_WAREHOUSE_URL: z
    .string()
    .describe('mongodb://… or sqlite:<file>: where API keys are kept (hashed)'),
  /** Optional: the event bus, so that the status shows the pipeline consumers' lag. */
  LLMTWIN_EVENT_BUS_URL: z.string().optional().describe('kafka://host:port[,host:port] or log:<file>'),
  ...securityConfigSchema.shape,
});

export type GatewayConfig = z.infer<typeof configSchema>;
export type SecurityConfig = z.infer<typeof securityConfigSchema>;

export const loadGatewayConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(configSchema, env);
export const loadSecurityConfig = (env: NodeJS.ProcessEnv = process.env) =>
  loadConfig(securityConfigSchema, env);

/** The settings createGatewayModule takes, from either schema. */
export const securitySettings = (config: SecurityConfig) => ({
  defaultRateLimitPerMinute: config.LLMTWIN_GATEWAY_RATE_LIMIT_PER_MINUTE,
  maxRequestBytes: config.LLMTWIN_GATEWAY_MAX_REQUEST_BYTES,
  maxUploadBytes: config.LLMTWIN_GATEWAY_MAX_UPLOAD_BYTES,
  corsOrigins: config.LLMTWIN_GATEWAY_CORS_ORIGINS,
  keyCacheTtlMs: config.LLMTWIN_GATEWAY_KEY_CACHE_TTL_MS,
  ...(config.LLMTWIN_GATEWAY_BOOTSTRAP_ADMIN_KEY
    ? { bootstrapAdminKey: config.LLMTWIN_GATEWAY_BOOTSTRAP_ADMIN_KEY }
    : {}),
});
