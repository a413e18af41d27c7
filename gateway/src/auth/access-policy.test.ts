// The access policy covers every public RPC, names only fields that exist (with the type the interceptor
// expects), and scopes every author method somehow: a new RPC, or a renamed field, fails here.
import { describe, expect, it } from '@jest/globals';
import { ScalarType, type DescMessage } from '@bufbuild/protobuf';
import { gatewayServices } from '../module.js';
import { accessPolicy, openServices, ruleFor } from './access-policy.js';

/** The field at a dotted path of local names, following message fields; the last may be any kind. */
function fieldAt(desc: DescMessage, path: string) {
  let current: DescMessage | undefined = desc;
  let field;
  for (const segment of path.split('.')) {
    if (!current) return undefined;
    field = current.fields.find((f) => f.localName === segment);
    current = field?.fieldKind === 'message' ? field.message : undefined;
  }
  return field;
}

const isString = (f: ReturnType<typeof fieldAt>) =>
  f?.fieldKind === 'scalar' && f.scalar === ScalarType.STRING;

const methods = gatewayServices.flatMap((s) =>
  s.methods.map((m) => ({ key: `${s.typeName}/${m.name}`, method: m })),
);

describe('the access policy', () => {
  it('has an entry for every method of every service the gateway serves', () => {
    const missing = methods.map((m) => m.key).filter((key) => !(key in accessPolicy));
    expect(missing).toEqual([]);
  });

  it('has no entry for a method that does not exist', () => {
    const known = new Set(methods.map((m) => m.key));
    expect(Object.keys(accessPolicy).filter((key) => !known.has(key))).toEqual([]);
  });

  it('scopes every author method by a request author, a response owner or an ownership check', () => {
    const unscoped = Object.entries(accessPolicy)
      .filter(([, r]) => r.access === 'author' && !r.requestAuthor && !r.responseOwner && !r.precheck)
      .map(([key]) => key);
    expect(unscoped).toEqual([]);
  });

  it('names request and response fields that exist and hold strings', () => {
    const problems: string[] = [];
    for (const { key, method } of methods) {
      const rule = accessPolicy[key]!;
      if (rule.requestAuthor && !isString(fieldAt(method.input, rule.requestAuthor)))
        problems.push(`${key}: request ${rule.requestAuthor}`);
      if (rule.responseOwner && !isString(fieldAt(method.output, rule.responseOwner)))
        problems.push(`${key}: response ${rule.responseOwner}`);
      if (rule.responseItems) {
        const list = fieldAt(method.output, rule.responseItems.list);
        if (list?.fieldKind !== 'list' || list.listKind !== 'message') {
          problems.push(`${key}: response list ${rule.responseItems.list}`);
        } else if (!isString(fieldAt(list.message, rule.responseItems.owner))) {
          problems.push(`${key}: item owner ${rule.responseItems.owner}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('makes unknown methods admin-only and leaves only health and reflection open', () => {
    expect(ruleFor('llmtwin.ingest.v1.IngestService', 'SomethingNew').access).toBe('admin');
    expect([...openServices].sort()).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
    ]);
    expect(accessPolicy['llmtwin.gateway.v1.AdminService/CreateApiKey']?.access).toBe('admin');
  });
});
