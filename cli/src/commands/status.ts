// `llmtwin status`: each service's health and its backends, through the gateway.
import { Code, ConnectError } from '@connectrpc/connect';
import { gatewayv1 } from '@llmtwin/contracts';
import { KEY_SOURCES } from '../api-key.js';
import { gatewayClient } from '../client.js';
import { bad, bold, dim, messageJson, ok, printJson } from '../output.js';

const healthText: Record<gatewayv1.ServiceHealth, string> = {
  [gatewayv1.ServiceHealth.UNSPECIFIED]: 'unknown',
  [gatewayv1.ServiceHealth.SERVING]: 'serving',
  [gatewayv1.ServiceHealth.NOT_SERVING]: 'not serving',
  [gatewayv1.ServiceHealth.UNREACHABLE]: 'unreachable',
};

export async function statusCommand(options: {
  url: string;
  json: boolean;
  apiKey?: string;
}): Promise<number> {
  const client = gatewayClient(gatewayv1.StatusService, options.url, options.apiKey);
  let status: gatewayv1.GetStatusResponse;
  try {
    status = await client.getStatus({}, { timeoutMs: 10_000 });
  } catch (err) {
    const message = err instanceof ConnectError ? err.rawMessage : String(err);
    const refused =
      err instanceof ConnectError &&
      (err.code === Code.Unauthenticated || err.code === Code.PermissionDenied);
    if (options.json) printJson({ error: message, url: options.url });
    else if (refused)
      console.error(
        bad(
          `the twin at ${options.url} refused the call: ${message}\n  The CLI sends the key from ${KEY_SOURCES}.`,
        ),
      );
    else
      console.error(bad(`cannot reach the twin at ${options.url}: ${message}\n  Start it with: npm start`));
    return 2;
  }
  const healthy = status.services.every((s) => s.health === gatewayv1.ServiceHealth.SERVING);
  if (options.json) {
    printJson({ healthy, ...(messageJson(gatewayv1.GetStatusResponseSchema, status) as object) });
    return healthy ? 0 : 1;
  }
  const where = status.dataDir ? dim(`(data in ${status.dataDir})`) : '';
  console.log(`${bold('LLM Twin')} ${status.version} — ${status.mode} mode ${where}`);
  for (const s of status.services) {
    const line = `${s.name.padEnd(18)} ${healthText[s.health]}`;
    const deps = s.dependencies.map((d) => `${d.name}=${d.adapter}${d.up ? '' : ' (down)'}`).join(', ');
    const lag = Object.entries(s.consumerLag)
      .map(([topic, n]) => `lag ${topic}=${n}`)
      .join(', ');
    console.log(
      (s.health === gatewayv1.ServiceHealth.SERVING ? ok(line) : bad(line)) +
        (deps ? dim(`  ${deps}`) : '') +
        (lag ? dim(`  ${lag}`) : ''),
    );
  }
  return healthy ? 0 : 1;
}
