// The lineage of a model version as a nested list, upstream from the root: model ← run ← dataset version ←
// cleaned document ← raw document ← source. A node reached twice on one path is not expanded again.
import { registryv1 } from '@llmtwin/contracts/web';
import { artifactKindWord } from './format';

type Node = registryv1.LineageNode;
const key = (n: Node) => `${n.type}:${n.id}`;

function NodeLine({ node }: { node: Node }) {
  return (
    <span class="lineage-node">
      <span class="badge">{artifactKindWord[node.type] ?? 'artifact'}</span> <span>{node.label}</span>{' '}
      {node.label !== node.id ? <code class="id">{node.id}</code> : null}
      {node.tainted ? (
        <span class="error"> Tainted: {node.taintReason || 'a document it was made from was deleted'}</span>
      ) : null}
    </span>
  );
}

function Branch({ node, parents, path }: { node: Node; parents: Map<string, Node[]>; path: Set<string> }) {
  const kids = (parents.get(key(node)) ?? []).filter((k) => !path.has(key(k)));
  return (
    <li>
      <NodeLine node={node} />
      {kids.length > 0 ? (
        <ul>
          {kids.map((k) => (
            <Branch key={key(k)} node={k} parents={parents} path={new Set([...path, key(k)])} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

export function LineageTree({ lineage, label }: { lineage: registryv1.GetLineageResponse; label: string }) {
  const root = lineage.root;
  if (!root) return <p class="muted">No lineage recorded.</p>;
  const parents = new Map<string, Node[]>();
  for (const e of lineage.edges) {
    if (!e.from || !e.to) continue;
    const list = parents.get(key(e.to)) ?? [];
    list.push(e.from);
    parents.set(key(e.to), list);
  }
  for (const list of parents.values()) list.sort((a, b) => a.label.localeCompare(b.label));
  return (
    <ul class="lineage" aria-label={label}>
      <Branch node={root} parents={parents} path={new Set([key(root)])} />
    </ul>
  );
}
