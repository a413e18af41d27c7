// Friendly terminal output, or JSON with --json, for every command.
import kleur from 'kleur';
import { toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { contractsRegistry } from '@llmtwin/contracts';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function messageJson<D extends DescMessage>(schema: D, message: MessageShape<D>): unknown {
  return toJson(schema, message, { registry: contractsRegistry });
}

export const ok = (text: string) => kleur.green('✔ ') + text;
export const bad = (text: string) => kleur.red('✖ ') + text;
export const dim = (text: string) => kleur.dim(text);
export const bold = (text: string) => kleur.bold(text);
