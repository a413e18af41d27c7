// Answer edits: a person's corrected version of an answer, stored on the generation record it corrects (field
// `edit`; a later edit replaces an earlier one). The trainer turns them into preference pairs (prompt = the
// query, chosen = the edit, rejected = the answer). Listed per author in generation order, oldest first.
import { failedPrecondition, invalidArgument, notFound } from '@llmtwin/runtime/errors';
import type { GenerationRecord, GenerationStore } from './generations.js';

export const MAX_EDIT_CHARS = 32_000;
export const MAX_COMMENT_CHARS = 2_000;

export interface AnswerEditFields {
  [key: string]: string | number;
  editedAnswer: string;
  comment: string;
  editor: string;
  editedAt: number;
}

export type EditedGeneration = GenerationRecord & { edit: AnswerEditFields };

export interface EditRequest {
  generationId: string;
  editedAnswer: string;
  comment: string;
  editor: string;
  /** The author an author-scoped caller acts for (the gateway's header); empty for admins and services. */
  actingAuthor?: string;
}

export class AnswerEdits {
  constructor(
    private readonly store: GenerationStore,
    private readonly now: () => number = Date.now,
  ) {}

  async edit(req: EditRequest, signal?: AbortSignal): Promise<EditedGeneration> {
    const edited = req.editedAnswer.trim();
    const problems: { field: string; message: string }[] = [];
    if (!req.generationId) problems.push({ field: 'generation_id', message: 'required' });
    if (!edited) problems.push({ field: 'edited_answer', message: 'must not be empty' });
    if (edited.length > MAX_EDIT_CHARS) {
      problems.push({ field: 'edited_answer', message: `at most ${MAX_EDIT_CHARS} characters` });
    }
    if (req.comment.length > MAX_COMMENT_CHARS) {
      problems.push({ field: 'comment', message: `at most ${MAX_COMMENT_CHARS} characters` });
    }
    if (problems.length > 0) {
      throw invalidArgument(
        `EditAnswer: ${problems.map((p) => `${p.field} ${p.message}`).join(', ')}`,
        problems,
      );
    }
    const generation = await this.store.get(req.generationId, signal);
    // An author key may only correct its own twin's answers; to it, another author's generation does not exist.
    if (req.actingAuthor && generation.authorId !== req.actingAuthor) {
      throw notFound(`no generation ${req.generationId}: ListGenerations lists the stored ones`);
    }
    if (!generation.answer.trim()) {
      throw failedPrecondition(
        `generation ${req.generationId} has no answer to correct (it ${generation.finishReason || 'failed'})`,
      );
    }
    if (edited === generation.answer.trim()) {
      throw invalidArgument('the edited answer is the same as the answer: change something', [
        { field: 'edited_answer', message: 'differs from the answer' },
      ]);
    }
    const edit: AnswerEditFields = {
      editedAnswer: edited,
      comment: req.comment.trim(),
      editor: req.editor.trim(),
      editedAt: this.now(),
    };
    const updated = await this.store.records.update(req.generationId, { set: { edit } }, {}, signal);
    if (!updated) throw notFound(`no generation ${req.generationId}: it was deleted while being edited`);
    return updated as EditedGeneration;
  }

  /** The author's edited generations, oldest first, after the id `after` (the previous page's last). */
  list(
    q: { authorId: string; after?: string; limit: number },
    signal?: AbortSignal,
  ): Promise<EditedGeneration[]> {
    const filter: Record<string, unknown> = { 'edit.editedAt': { $exists: true } };
    if (q.authorId) filter['authorId'] = q.authorId;
    if (q.after) filter['_id'] = { $gt: q.after };
    return this.store.records.find(
      filter as never,
      { sort: [{ field: '_id', direction: 'asc' }], limit: q.limit },
      signal,
    ) as Promise<EditedGeneration[]>;
  }
}
