// The evaluation step as a composition root builds it: the Python runtime for perplexity and answers, the
// judge from the trainer's model table (LLMTWIN_EVAL_JUDGE_MODEL), passages from the router's Retrieve
// (LLMTWIN_EVAL_RETRIEVAL=router). A setting that names something this process does not have fails here, at
// start, with what to change — never a silent evaluation without the judge or the passages asked for.
import type { Client } from '@connectrpc/connect';
import type { inferencev1 } from '@llmtwin/contracts';
import { failedPrecondition } from '@llmtwin/runtime/errors';
import type { Logger } from 'pino';
import { evaluationSettings, type EvaluationConfig } from '../config.js';
import { createEvaluator } from '../domain/evaluation/evaluation.js';
import type { Evaluator } from '../domain/evaluator.port.js';
import { ConnectRetriever } from './connect-retriever.js';
import { PythonEvaluation } from './python-evaluation.js';
import { routerModels, type ModelTable } from './router-llm.js';

export interface TrainingEvaluatorOptions {
  /** The LLMTWIN_EVAL_* settings. */
  config: EvaluationConfig;
  /** The training job's interpreter and PYTHONPATH (adapters/trainer-python.ts locates them). */
  python: string;
  pythonPath?: string;
  /** torch threads for the evaluation processes. */
  threads: number;
  /** The trainer's model table; the judge is resolved from it. */
  models?: ModelTable;
  /** The inference router's client; needed when LLMTWIN_EVAL_RETRIEVAL=router. */
  router?: () => Client<typeof inferencev1.InferenceService>;
  logger: Logger;
}

export function createTrainingEvaluator(o: TrainingEvaluatorOptions): Evaluator {
  const settings = evaluationSettings(o.config);
  const runtime = new PythonEvaluation({
    python: o.python,
    threads: o.threads,
    ...(o.pythonPath ? { pythonPath: o.pythonPath } : {}),
  });
  const judgeModel = o.config.LLMTWIN_EVAL_JUDGE_MODEL;
  if (judgeModel && !o.models) {
    throw failedPrecondition(
      `LLMTWIN_EVAL_JUDGE_MODEL=${judgeModel} names a judge, but the trainer has no model table: ` +
        'configure LLMTWIN_LLM_BACKENDS, or leave LLMTWIN_EVAL_JUDGE_MODEL empty for no judge',
    );
  }
  // resolve() throws not-found for a model id the table does not serve: at start, not after a training run.
  const judge = judgeModel && o.models ? routerModels(o.models).resolve(judgeModel) : undefined;
  if (o.config.LLMTWIN_EVAL_RETRIEVAL === 'router' && !o.router) {
    throw failedPrecondition(
      'LLMTWIN_EVAL_RETRIEVAL=router needs the inference router: set LLMTWIN_INFERENCE_ROUTER_URL, or ' +
        'LLMTWIN_EVAL_RETRIEVAL=none',
    );
  }
  const retriever =
    o.config.LLMTWIN_EVAL_RETRIEVAL === 'router' && o.router
      ? new ConnectRetriever(o.router, settings.ragPassages)
      : undefined;
  const log = o.logger.child({ step: 'evaluation' });
  return createEvaluator({
    perplexity: runtime,
    answers: runtime,
    ...(retriever ? { retriever } : {}),
    ...(judge ? { judge } : {}),
    settings,
    log: {
      info: (fields, message) => log.info(fields, message),
      warn: (fields, message) => log.warn(fields, message),
    },
  });
}
