import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

const serviceUrl = (name: string) =>
  z.url({ protocol: /^https?$/ }).describe(`address of the ${name} service, e.g. http://${name}:8080`);

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_INGEST_URL: serviceUrl('ingest'),
  LLMTWIN_CLEAN_URL: serviceUrl('clean'),
  LLMTWIN_CHUNK_URL: serviceUrl('chunk'),
  LLMTWIN_EMBED_URL: serviceUrl('embed'),
  LLMTWIN_REGISTRY_URL: serviceUrl('registry'),
  LLMTWIN_TRAINER_URL: serviceUrl('trainer'),
  LLMTWIN_INFERENCE_ROUTER_URL: serviceUrl('inference-router'),
  /** Optional: the event bus, so that the status shows the pipeline consumers' lag. */
  LLMTWIN_EVENT_BUS_URL: z.string().optional().describe('kafka://host:port[,host:port] or log:<file>'),
});

export const loadGatewayConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(configSchema, env);
