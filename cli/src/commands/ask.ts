// `llmtwin ask "<question>"`: asks the twin through the gateway and streams the answer, then its sources.
// `llmtwin demo`: loads the demo author (bundled sample pages) into a running twin.
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { inferencev1, ingestv1 } from '@llmtwin/contracts';
import { gatewayClient } from '../client.js';
import { DEMO_AUTHOR_ID, loadDemoAuthor, type DemoLoadResult } from '../demo.js';
import { bold, dim, ok, printJson } from '../output.js';
import { remote, type RemoteOptions } from './ingest.js';

/** What `done.fallback` means, for the line under the answer. */
const FALLBACK_WHY: Record<string, string> = {
  repetition: 'it repeated itself',
  no_citations: 'it cited no source',
};

export const askCommand = (
  o: RemoteOptions & { question: string; author: string; model?: string; topK?: number; maxTokens?: number },
) =>
  remote(o, async () => {
    const client = gatewayClient(inferencev1.InferenceService, o.url, o.apiKey);
    const request = {
      query: o.question,
      authorId: o.author,
      retrieval: { topK: o.topK ?? 0 },
      generation: { model: o.model ?? '', maxTokens: o.maxTokens ?? 0 },
    };
    if (o.json) {
      const res = await client.generate(request);
      printJson({
        answer: res.answer,
        model: res.model,
        // The author's fine-tuned version that answered ("<name>/<version>"); null for the stock model.
        modelVersion: res.modelVersion || null,
        modelVersionId: res.modelVersionId || null,
        extractive: res.extractive,
        // Why the model's answer gave way to quotes ("repetition" | "no_citations"); null when it did not.
        fallback: res.fallback || null,
        // The model's own text when a fallback withdrew it; null otherwise.
        modelAnswer: res.fallback ? res.modelAnswer : null,
        // The model cited nothing; the [n] after the answer name the sources its sentences were found in.
        citationsAttributed: res.citationsAttributed,
        finishReason: res.finishReason,
        generationId: res.generationId,
        citations: res.citations.map((c) => ({
          index: c.index,
          title: c.title,
          url: c.url,
          ...(c.publishTime ? { publishTime: timestampDate(c.publishTime).toISOString() } : {}),
          // One citation per document; these are the parts of it the answer was given.
          passages: c.passages.map((p) => ({ chunkId: p.chunkId, snippet: p.snippet, score: p.score })),
        })),
      });
      return 0;
    }
    for await (const event of client.generateStream(request)) {
      if (event.event.case === 'delta') process.stdout.write(event.event.value);
      else if (event.event.case === 'done') {
        const done = event.event.value;
        process.stdout.write('\n\n');
        for (const c of done.citations) {
          const when = c.publishTime ? timestampDate(c.publishTime).toISOString().slice(0, 10) : '';
          const parts = c.passages.length > 1 ? dim(` (${c.passages.length} passages)`) : '';
          console.log(`${dim(`[${c.index}]`)} ${c.title} ${dim(c.url)} ${dim(when)}${parts}`);
        }
        console.log(
          dim(
            `model ${done.model}${done.modelVersion ? ` + ${done.modelVersion}` : ''}` +
              `${done.extractive ? ' (extractive)' : ''}` +
              `${done.citationsAttributed ? ', sources named by the router (the model cited none)' : ''}` +
              `${done.fallback ? `, model answer withdrawn: ${FALLBACK_WHY[done.fallback] ?? done.fallback}` : ''}` +
              `, generation ${done.generationId}`,
          ),
        );
      }
    }
    return 0;
  });

/** Prints what the demo load did: a summary, the sources' credits and a question to ask. */
export function printDemo(result: DemoLoadResult, url: string): void {
  const j = result.job;
  console.log(
    ok(
      `demo author ${bold(DEMO_AUTHOR_ID)}: ${j.created} pages added, ${j.unchanged} unchanged` +
        (j.errors.length ? `, ${j.errors.length} failed` : ''),
    ),
  );
  console.log(dim('  sample pages by their authors, used under their licences (docs/demo.md):'));
  for (const line of result.attribution) console.log(dim(`    ${line}`));
  console.log(dim('  ask it (the pages are indexed within a minute):'));
  console.log(`    npx llmtwin ask "${result.question}"`);
  console.log(
    `    curl -s ${url}/v1/chat/completions -H "authorization: Bearer $(cat .llmtwin/admin.key)" ` +
      `-H 'content-type: application/json' -d '{"user":"demo","messages":[{"role":"user","content":"${result.question}"}]}'`,
  );
}

export const demoCommand = (o: RemoteOptions) =>
  remote(o, async () => {
    const result = await loadDemoAuthor(gatewayClient(ingestv1.IngestService, o.url, o.apiKey));
    if (o.json) printJson(result);
    else printDemo(result, o.url);
    return result.job.state === 'failed' ? 1 : 0;
  });
