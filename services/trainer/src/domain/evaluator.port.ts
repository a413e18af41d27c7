// The evaluation step a training job runs after the adapter is trained: it scores the candidate adapter (and the
// base model, and the author's production adapter when there is one) on the held-out split and decides whether the
// candidate may be proposed for production. The training job registers the model version with the report; a report
// with `passed: false` (a failed gate) registers the version as STAGE_REJECTED with a reason naming the gate.
import type { registryv1 } from '@llmtwin/contracts';

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface HeldOutPrompt {
  /** The test-split example's id (stable across runs of the same dataset version). */
  id: string;
  /** The conversation without its final assistant turn. */
  messages: ChatTurn[];
  /** The author's own answer (the removed assistant turn). */
  reference: string;
}

export interface EvaluationInput {
  authorId: string;
  datasetVersion: registryv1.DatasetVersion;
  /** A folder the evaluator may write into (scores, generations); the job's work dir or a subfolder of it. */
  workDir: string;
  heldOut: {
    /** The assistant turns of the test split: the author's own text, for perplexity. */
    texts: string[];
    prompts: HeldOutPrompt[];
  };
  /** The base model's Hugging Face id or local directory, as in the training spec. */
  baseModel: string;
  /** The base model's GGUF file, when the job trained from one (cpu-tiny). */
  baseGguf?: string;
  candidate: { adapterDir: string; modelVersionLabel: string };
  /** The author's current production model version, its adapter fetched from the artifact store. */
  production?: { adapterDir: string; modelVersionId: string };
  signal: AbortSignal;
}

export interface Evaluator {
  /** Resolves with the report; `passed` false with a failed gate means the candidate is rejected. Throws only when
   *  the evaluation itself could not run (the training job then fails). */
  evaluate(input: EvaluationInput): Promise<registryv1.EvaluationReport>;
}
