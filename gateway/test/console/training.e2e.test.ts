// The console's Training page in headless Chromium against the real embedded twin. The registry records go in
// through the public API from this process (an admin key, Connect over HTTP/1.1, as the CLI does): a dataset
// version, two SFT runs on it with loss points and final metrics, a model version of the first run with its
// evaluation, and a pending request to move it to production. In the browser an admin sees the dataset and
// both runs, opens a run's loss curve, compares the two runs side by side, approves the pending transition and
// sees the stage change, reads the model's lineage down to its source documents, and gets the API's error
// next to the Rollback button when there is nothing to roll back to. axe finds nothing in light and dark.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DescService } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Page } from 'playwright-core';
import { registryv1, trainerv1 } from '@llmtwin/contracts';
import { poll } from '@llmtwin/testkit/poll';
import {
  axeViolations,
  describeViolations,
  goTo,
  screenshot,
  signIn,
  startConsoleTwin,
  type ConsoleTwin,
} from './console.fixture.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A client of the twin's gateway with the admin key, a new connection per call (as the CLI's e2e tests do). */
function twinClient<S extends DescService>(service: S, baseUrl: string, apiKey: string) {
  return createClient(
    service,
    createConnectTransport({
      baseUrl,
      httpVersion: '1.1',
      nodeOptions: { agent: new http.Agent({ keepAlive: false }) },
      interceptors: [
        (next) => (req) => {
          req.header.set('authorization', `Bearer ${apiKey}`);
          return next(req);
        },
      ],
    }),
  );
}

const source = (n: number) => ({
  documentId: `doc_post${n}`,
  version: 1n,
  cleanedContentHash: sha256(`cleaned ${n}`),
  rawContentHash: sha256(`raw ${n}`),
  sourceId: 'src_blog',
  canonicalUrl: `https://blog.example.com/post-${n}`,
  title: `Post ${n}`,
});

const loss = (values: number[]) =>
  values.map((value, i) => ({ key: 'loss', step: BigInt((i + 1) * 10), value }));

describe('console: Training page', () => {
  let ct: ConsoleTwin;
  let dv: registryv1.DatasetVersion;
  let runA: registryv1.Run;
  let runB: registryv1.Run;
  let mv: registryv1.ModelVersion;
  let job: trainerv1.Job;

  beforeAll(async () => {
    ct = await startConsoleTwin('console-training-', {
      args: ['--no-demo'],
      env: { LLMTWIN_LLM_BACKENDS: '' },
    });
    const registry = twinClient(registryv1.RegistryService, ct.url, ct.adminKey);
    dv = (
      await registry.createDatasetVersion({
        dataset: 'jane-instruct',
        kind: registryv1.DatasetKind.INSTRUCT,
        authorId: 'jane',
        splits: [
          { name: 'train', examples: 90n },
          { name: 'test', examples: 10n },
        ],
        contentHash: sha256('examples v1'),
        sources: [source(1), source(2)],
        generator: { kind: 'extractive' },
      })
    ).datasetVersion!;
    const trained = async (loraRank: number, points: number[], evalLoss: number) => {
      const run = (
        await registry.createRun({
          experiment: 'jane-sft',
          method: registryv1.TrainingMethod.SFT,
          baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
          datasetVersionId: dv.id,
          params: { learning_rate: 0.0002, lora_rank: loraRank },
        })
      ).run!;
      await registry.updateRun({ id: run.id, state: registryv1.RunState.RUNNING, metrics: loss(points) });
      return (
        await registry.updateRun({
          id: run.id,
          state: registryv1.RunState.SUCCEEDED,
          metrics: [{ key: 'eval_loss', step: BigInt(points.length * 10), value: evalLoss }],
        })
      ).run!;
    };
    runA = await trained(8, [2.5, 2.1, 1.8, 1.6, 1.5], 1.9);
    runB = await trained(16, [2.4, 1.9, 1.7, 1.45, 1.3], 1.75);
    mv = (
      await registry.registerModelVersion({
        name: 'jane-twin',
        runId: runA.id,
        servingModelId: 'jane-twin-lora',
        weightsKind: registryv1.WeightsKind.ADAPTER,
        evalMetrics: { perplexity: 12.1 },
        evaluation: {
          scores: [
            { role: 'candidate', model: 'candidate', perplexity: 12.1, styleDistance: 0.21, examples: 10n },
            { role: 'base', model: 'base', perplexity: 18.4, styleDistance: 0.35, examples: 10n },
          ],
          gates: [{ name: 'perplexity', passed: true, detail: 'perplexity 12.1 vs base 18.4: 34% lower' }],
          passed: true,
        },
      })
    ).modelVersion!;
    await registry.requestStageTransition({
      modelVersionId: mv.id,
      stage: registryv1.Stage.PRODUCTION,
      comment: 'beats the base model',
    });
    // A trainer job: a dataset build for an author with nothing cleaned, which ends (fails) on its own.
    const trainer = twinClient(trainerv1.TrainerService, ct.url, ct.adminKey);
    const queued = (await trainer.buildDataset({ authorId: 'jane', generatorModel: 'extractive' })).job!;
    job = await poll(async () => (await trainer.getJob({ id: queued.id })).job!, {
      what: 'the dataset build to end',
      timeoutMs: 60_000,
      intervalMs: 250,
      until: (j) => j.state !== trainerv1.JobState.QUEUED && j.state !== trainerv1.JobState.RUNNING,
    });
  }, 240_000);
  afterAll(() => ct?.dispose());

  /** Signs in as admin, opens Training and waits until the registry's lists are on the page. */
  async function openTraining(options: Parameters<ConsoleTwin['open']>[0] = {}): Promise<Page> {
    const page = await ct.open(options);
    await signIn(page, ct.adminKey);
    await goTo(page, 'Training');
    await page.getByText('jane-instruct v1', { exact: true }).first().waitFor({ timeout: 60_000 });
    await page.getByText(runB.id, { exact: true }).first().waitFor({ timeout: 60_000 });
    return page;
  }

  /** Opens run A's loss curve and compares both runs: the page in its fullest state. */
  async function openCurveAndCompare(page: Page): Promise<void> {
    await page.getByRole('button', { name: `Show loss curve of ${runA.id}` }).click();
    await page.getByRole('img', { name: /^loss curve:/ }).waitFor({ timeout: 60_000 });
    await page.getByRole('checkbox', { name: `Compare ${runA.id}` }).check();
    await page.getByRole('checkbox', { name: `Compare ${runB.id}` }).check();
    await page.getByRole('button', { name: /^Compare selected runs \(2\)/ }).click();
    await page.getByRole('region', { name: 'Runs compared', exact: true }).waitFor({ timeout: 60_000 });
  }

  it('shows datasets, runs with a loss curve and a comparison; approves into production; shows lineage and a rollback error', async () => {
    const page = await openTraining();

    // The dataset version: name and version, kind, size and its source documents.
    const datasets = page.getByRole('region', { name: 'Dataset versions', exact: true });
    const dsRow = datasets.getByRole('row', { name: /jane-instruct v1/ });
    expect(await dsRow.textContent()).toContain('instruct');
    expect(await dsRow.textContent()).toContain('100 examples');
    expect(await dsRow.textContent()).toContain('train 90 · test 10');
    expect(await dsRow.textContent()).toContain('2 source documents');

    // Both runs, with status, method, base model and their latest metrics.
    const runs = page.getByRole('region', { name: 'Runs', exact: true });
    for (const [run, lastLoss] of [
      [runA, '1.5'],
      [runB, '1.3'],
    ] as const) {
      const text = await runs.getByRole('row', { name: new RegExp(run.id) }).textContent();
      expect(text).toContain('succeeded');
      expect(text).toContain('SFT');
      expect(text).toContain('HuggingFaceTB/SmolLM2-135M-Instruct');
      expect(text).toContain(`loss ${lastLoss}`);
    }

    // Run A's loss curve: an SVG chart with a name, and every point in a table for screen readers.
    await openCurveAndCompare(page);
    const chart = page.getByRole('img', { name: /^loss curve:/ });
    expect(await chart.getAttribute('aria-label')).toContain('steps 10 to 50: from 2.5 to 1.5');
    expect(await chart.locator('path.line').getAttribute('d')).toMatch(
      /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){4}$/,
    );
    const points = page.getByRole('table', { name: 'loss: every recorded point', exact: true });
    expect(await points.getByRole('row').count()).toBe(6);
    await expect(points.getByRole('row').nth(5).textContent()).resolves.toBe('501.5');
    await page.getByText('Recorded once: eval_loss 1.9 at step 50').waitFor();

    // The comparison: one column per run, the differing param and the evaluation of run A's model version.
    const comparison = page.getByRole('region', { name: 'Runs compared', exact: true });
    const headers = await comparison.getByRole('columnheader').allTextContents();
    expect(headers.slice(1)).toEqual(expect.arrayContaining([runA.id, runB.id]));
    expect(headers).toHaveLength(3);
    const cells = async (label: string) =>
      (await comparison.getByRole('row', { name: new RegExp(`^${label}`) }).allTextContents())[0];
    const ranks = await cells('param lora_rank');
    expect(ranks).toContain('8');
    expect(ranks).toContain('16');
    expect(await cells('eval_loss')).toMatch(/1\.9.*1\.75|1\.75.*1\.9/);
    expect(await cells('Perplexity \\(candidate\\)')).toContain('12.1');

    // The pending production request, approved behind a confirmation: the stage changes.
    const models = page.getByRole('region', { name: 'Model versions', exact: true });
    const mvRow = models.getByRole('row', { name: new RegExp(mv.id) });
    expect(await mvRow.textContent()).toContain('production pending review');
    expect(await mvRow.textContent()).toContain('beats the base model');

    // Axe on the fullest state (curve, comparison, a pending review), then the screenshot.
    expect(describeViolations(await axeViolations(page))).toBe('');
    await screenshot(page, 'training');

    await mvRow.getByRole('button', { name: 'Approve jane-twin v1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Approve jane-twin v1 into production?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await mvRow
      .getByRole('status')
      .filter({ hasText: 'Approved: jane-twin v1 is now production.' })
      .waitFor();
    expect(await mvRow.textContent()).not.toContain('pending review');
    expect(await mvRow.textContent()).toContain('@production');
    await models.getByText('jane-twin v1 in production').waitFor();

    // Lineage of the model version: model ← run ← dataset ← cleaned ← raw document ← source.
    const lineage = page.getByRole('list', { name: 'Lineage of jane-twin v1' });
    await lineage.waitFor({ timeout: 60_000 });
    const nested = lineage
      .locator('li', { hasText: 'jane-twin v1' })
      .locator('li', { hasText: runA.id })
      .locator('li', { hasText: 'jane-instruct v1' })
      .locator('li', { hasText: 'Post 1 — https://blog.example.com/post-1' })
      .locator('li', { hasText: 'source src_blog' });
    await nested.first().waitFor();
    expect(await lineage.textContent()).toContain('Post 2 — https://blog.example.com/post-2');

    // The row's Lineage button chooses the version and moves focus to the lineage's model field.
    await mvRow.getByRole('button', { name: 'Lineage of jane-twin v1' }).click();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('lineage-model');
    expect(await page.getByLabel('Model version', { exact: true }).inputValue()).toBe(mv.id);

    // The trainer's job, with its state and what it said.
    const jobRow = page
      .getByRole('region', { name: 'Trainer jobs', exact: true })
      .getByRole('row', { name: new RegExp(job.id) });
    const jobText = await jobRow.textContent();
    expect(jobText).toContain('dataset build');
    expect(jobText).toContain(trainerv1.JobState[job.state]!.toLowerCase());
    expect(jobText).toContain(job.message);

    // A bad action: nothing to roll back to. The API's error shows next to the button.
    const rollback = models.getByRole('button', { name: 'Roll back production of jane-twin' });
    await rollback.click();
    await page
      .getByRole('dialog', { name: 'Roll back jane-twin?' })
      .getByRole('button', { name: 'Roll back' })
      .click();
    const error = page.locator('#rollback-jane-twin-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(
      /model "jane-twin" has no earlier approved, untainted version to roll back to .*\(FailedPrecondition\)/,
    );
    expect(await rollback.getAttribute('aria-describedby')).toBe('rollback-jane-twin-error');
    // Nothing changed: v1 is still in production.
    expect(await mvRow.textContent()).toContain('@production');
  }, 240_000);

  it('passes axe in dark and fits a phone without scrolling sideways', async () => {
    const page = await openTraining({ colorScheme: 'dark', viewport: { width: 375, height: 740 } });
    await openCurveAndCompare(page);
    await page.getByRole('list', { name: 'Lineage of jane-twin v1' }).waitFor({ timeout: 60_000 });
    expect(describeViolations(await axeViolations(page))).toBe('');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBe(0);
  }, 180_000);
});
