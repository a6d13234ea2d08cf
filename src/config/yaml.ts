// A YAML configuration file as plain data, with the line of every field for error messages.
// Syntax errors and alias bombs become InputErrors at their line.
import { LineCounter, parseDocument, isAlias, isMap, isNode, isPair, isSeq, isScalar, visit, type Document, type Node } from 'yaml';
import { InputError, InputErrors } from '../errors.js';

export type FieldPath = (string | number)[];

/** What a section's parser (track:, notify:) is given to report mistakes at their field and read durations. */
export interface FieldChecker {
  duration: (path: FieldPath, value: unknown, min: number, wanted: string) => number | undefined;
  fail: (path: FieldPath, message: string) => void;
}

export interface YamlFile {
  /** The document as plain data (null for an empty file). */
  data: unknown;
  /** The line of the node at `path`, or of its nearest ancestor that exists. */
  lineOf(path: FieldPath): number | undefined;
}

export function readYaml(text: string, file: string): YamlFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    throw new InputErrors(doc.errors.map((e) => new InputError(e.message.split('\n')[0], { file, line: lc.linePos(e.pos[0]).line })));
  }
  let data: unknown;
  // yaml stops expanding aliases past its maxAliasCount (a "billion laughs" file would otherwise
  // eat the memory) with a bare ReferenceError: say where instead.
  try {
    data = doc.toJS();
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    const bomb = heaviestAlias(doc);
    throw new InputError(`aliases expand to too much data (${e.message.toLowerCase()})${bomb ? `: *${bomb.source} alone stands for ${bomb.size} nodes` : ''}`, {
      file,
      line: bomb?.range ? lc.linePos(bomb.range[0]).line : undefined,
      field: bomb?.field,
    });
  }
  return { data, lineOf: (path) => lineOf(doc, lc, path) };
}

function lineOf(doc: Document, lc: LineCounter, path: FieldPath): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

/** The alias that expands to the most nodes (the top of the bomb), first in the file on ties. */
function heaviestAlias(doc: Document): { source: string; size: number; range?: Node['range']; field?: string } | undefined {
  const sizes = new Map<unknown, number>();
  const size = (node: unknown): number => {
    if (isAlias(node)) return size(node.resolve(doc));
    if (!isMap(node) && !isSeq(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    sizes.set(node, 1); // a collection that contains an alias of itself counts once
    let n = 1;
    for (const item of node.items as unknown[]) n += isPair(item) ? size(item.key) + size(item.value) : size(item);
    sizes.set(node, n);
    return n;
  };
  let best: ReturnType<typeof heaviestAlias>;
  visit(doc, {
    Alias(_key, node, path) {
      const s = size(node);
      if (!best || s > best.size) best = { source: node.source, size: s, range: node.range, field: fieldOf([...path, node]) };
    },
  });
  return best;
}

/** `vips.0.seed` for a node reached through `path` (its ancestors from the document down). */
function fieldOf(path: readonly unknown[]): string {
  const parts: string[] = [];
  path.forEach((p, i) => {
    if (isPair(p)) parts.push(isScalar(p.key) ? String(p.key.value) : '?');
    else if (isSeq(p)) parts.push(String((p.items as unknown[]).indexOf(path[i + 1])));
  });
  return parts.join('.');
}
