// RegistryService handlers: page parsing and message shapes; the rules live in the domain.
import type { ConnectRouter } from '@connectrpc/connect';
import { registryv1 } from '@llmtwin/contracts';
import { nextPageToken, readPage } from '@llmtwin/host';
import { toDatasetVersion } from '../domain/dataset-versions.js';
import type { Registry } from '../domain/registry.js';
import { toRun } from '../domain/runs.js';

export function registerRegistryRoutes(router: ConnectRouter, registry: Registry): void {
  const { datasets, runs, models, lineage } = registry;
  router.service(registryv1.RegistryService, {
    async createDatasetVersion(req, ctx) {
      return datasets.create(req, ctx.signal);
    },
    async getDatasetVersion(req, ctx) {
      return { datasetVersion: await datasets.get(req.id, ctx.signal) };
    },
    async listDatasetVersions(req, ctx) {
      const page = readPage(req.page);
      const items = await datasets.list(req, page, ctx.signal);
      return {
        datasetVersions: items.map(toDatasetVersion),
        page: { nextPageToken: nextPageToken(items, page.size) },
      };
    },

    async createRun(req, ctx) {
      return { run: await runs.create(req, ctx.signal) };
    },
    async updateRun(req, ctx) {
      return { run: await runs.update(req, ctx.signal) };
    },
    async getRun(req, ctx) {
      return runs.get(req.id, ctx.signal);
    },
    async listRuns(req, ctx) {
      const page = readPage(req.page);
      const items = await runs.list(req, page, ctx.signal);
      return { runs: items.map(toRun), page: { nextPageToken: nextPageToken(items, page.size) } };
    },
    async compareRuns(req, ctx) {
      return runs.compare(req.runIds, ctx.signal);
    },

    async registerModelVersion(req, ctx) {
      return { modelVersion: await models.register(req, ctx.signal) };
    },
    async getModelVersion(req, ctx) {
      return { modelVersion: await models.get(req.id, ctx.signal) };
    },
    async listModelVersions(req, ctx) {
      const page = readPage(req.page);
      const found = await models.list(req, page, ctx.signal);
      return { modelVersions: found.versions, page: { nextPageToken: nextPageToken(found.page, page.size) } };
    },
    async requestStageTransition(req, ctx) {
      return models.requestTransition(req, ctx.signal);
    },
    async reviewStageTransition(req, ctx) {
      return models.reviewTransition(req, ctx.signal);
    },
    async rollbackProduction(req, ctx) {
      return models.rollback(req, ctx.signal);
    },
    async listStageTransitions(req, ctx) {
      return { transitions: await models.listTransitions(req, ctx.signal) };
    },
    async setModelAlias(req, ctx) {
      return { modelVersion: await models.setAlias(req, ctx.signal) };
    },

    async getLineage(req, ctx) {
      return lineage.get(req, ctx.signal);
    },
  });
}
