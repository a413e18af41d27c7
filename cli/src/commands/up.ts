// `llmtwin up`: the whole twin in this process on the embedded backends, until Ctrl-C.
import { createLogger, startTelemetry } from '@llmtwin/runtime';
import { ingestv1 } from '@llmtwin/contracts';
import { readFile } from 'node:fs/promises';
import { gatewayClient } from '../client.js';
import { loadDemoAuthor, shouldOfferDemo } from '../demo.js';
import { startEmbedded } from '../embedded.js';
import { printDemo } from './ask.js';
import { bold, dim, ok, printJson } from '../output.js';

export async function upCommand(options: {
  dataDir: string;
  port: number;
  host: string;
  json: boolean;
  version: string;
  logLevel: string;
  /** Load the demo author when the installation has no sources yet. */
  demo?: boolean;
}): Promise<void> {
  // One SDK for the whole process: every service's spans and metrics share it (OTEL_* variables apply).
  const telemetry = startTelemetry({ serviceName: 'llmtwin', serviceVersion: options.version });
  const logger = createLogger('llmtwin', { level: options.logLevel });
  const twin = await startEmbedded({
    dataDir: options.dataDir,
    port: options.port,
    host: options.host,
    logger,
    version: options.version,
  });
  if (options.json) {
    printJson({
      status: 'up',
      url: twin.url,
      dataDir: twin.dataDir,
      mode: 'embedded',
      adminKeyFile: twin.adminKeyFile,
    });
  } else {
    console.log(
      ok(`${bold('LLM Twin')} is up at ${bold(twin.url)} ${dim(`(embedded mode, data in ${twin.dataDir})`)}`),
    );
    console.log(
      dim('  admin key: ') +
        `${twin.adminKeyFile} ${dim('(the CLI reads it; create keys with llmtwin keys create)')}`,
    );
    console.log(dim('  check it:  ') + `npx llmtwin status`);
    console.log(
      dim('  or:        ') +
        `curl -s -X POST ${twin.url}/grpc.health.v1.Health/Check -H 'content-type: application/json' -d '{}'`,
    );
    console.log(dim('  stop it with Ctrl-C'));
  }
  // Signals are handled from here on, so that a stop during the demo load is still a clean shutdown.
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      twin
        .stop()
        .then(() => telemetry.shutdown())
        .then(resolve, (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  if (options.demo !== false) {
    // A fresh installation has nothing of its own to talk about: give it the demo author's pages.
    try {
      const key = (await readFile(twin.adminKeyFile, 'utf8')).trim();
      const ingest = gatewayClient(ingestv1.IngestService, twin.url, key);
      if (await shouldOfferDemo(ingest)) {
        const result = await loadDemoAuthor(ingest);
        if (options.json) printJson({ status: 'demo-loaded', demo: result });
        else {
          console.log(dim('  no sources yet, so the demo author is loaded (skip with --no-demo):'));
          printDemo(result, twin.url);
        }
      }
    } catch (err) {
      logger.warn({ err }, 'could not load the demo author');
    }
  }
  await stopped;
}
