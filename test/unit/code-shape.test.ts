// The shape a newcomer can read in an afternoon: no file in src/ over 350 lines, no function
// over 80, no import cycle. Exceptions, if ever needed, are named in the README's architecture
// section and listed here with the reason.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../src');
const MAX_FILE_LINES = 350;
const MAX_FUNCTION_LINES = 80;
const EXCEPTIONS = new Set<string>([]);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function longFunctions(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > MAX_FUNCTION_LINES) {
        const name = (node as ts.FunctionLikeDeclaration).name?.getText(sf) ?? '(anonymous)';
        out.push(`${relative(SRC, file)}:${start + 1} ${name} (${end - start + 1} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  sf.forEachChild((n) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const spec = n.moduleSpecifier.text;
      if (spec.startsWith('.')) out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  });
  return out;
}

describe('the shape of src/', () => {
  const all = files(SRC);
  it(`has no file over ${MAX_FILE_LINES} lines`, () => {
    const long = all
      .filter((f) => !EXCEPTIONS.has(relative(SRC, f)))
      .map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > MAX_FILE_LINES)
      .map(([f, n]) => `${f} (${n} lines)`);
    expect(long).toEqual([]);
  });
  it(`has no function over ${MAX_FUNCTION_LINES} lines`, () => {
    expect(all.filter((f) => !EXCEPTIONS.has(relative(SRC, f))).flatMap(longFunctions)).toEqual([]);
  });
  it('has no import cycle', () => {
    const graph = new Map(all.map((f) => [f, importsOf(f).filter((g) => graph0.has(g))]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const dfs = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const g of graph.get(f) ?? []) {
        if (state.get(g) === 'open')
          cycles.push(
            stack
              .slice(stack.indexOf(g))
              .concat(g)
              .map((x) => relative(SRC, x))
              .join(' → '),
          );
        else if (!state.has(g)) dfs(g);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of all) if (!state.has(f)) dfs(f);
    expect(cycles).toEqual([]);
  });
});
const graph0 = new Set(files(SRC));
