/**
 * The layering of main/, read from the code: the import graph between top-level folders (and the
 * files at main/'s root) has no cycle, and only main/app/ imports electron. Every import counts:
 * `import type` too (a cycle of types is still two layers that each need the other), require()
 * and dynamic import().
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/models';

const MAIN = path.join(REPO_ROOT, 'main');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** A file's layer: its top-level folder under main/ ("engine/"), or its own name at main/'s root ("compose"). */
function layerOf(root: string, file: string): string {
  const rel = path.relative(root, file).split(path.sep);
  return rel.length > 1 ? `${rel[0]}/` : rel[0].replace(/\.tsx?$/, '');
}

/** The file a relative specifier names (./x → x.ts, x.tsx or x/index.ts). */
function resolve(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  for (const f of [base, `${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(f) && fs.statSync(f).isFile()) return f;
  }
  return null;
}

interface Graph {
  /** layer → the layers it imports, each with one file import that shows it */
  edges: Map<string, Map<string, string>>;
  /** files outside main/app that import electron */
  electron: string[];
  unresolved: string[];
}

function readGraph(root: string): Graph {
  const files = sourceFiles(root);
  const edges = new Map<string, Map<string, string>>();
  const electron: string[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const rel = path.relative(path.dirname(root), file);
    for (const { fileName: spec } of importedFiles) {
      if (spec === 'electron' || spec.startsWith('electron/')) {
        if (layerOf(root, file) !== 'app/') electron.push(rel);
        continue;
      }
      if (!spec.startsWith('.')) continue;
      const target = resolve(file, spec);
      if (!target) {
        unresolved.push(`${rel}: ${spec}`);
        continue;
      }
      if (!target.startsWith(root + path.sep)) continue; // the renderer's, the scripts': not main's layers
      const [a, b] = [layerOf(root, file), layerOf(root, target)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Map());
      if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, `${rel} → ${spec}`);
    }
  }
  return { edges, electron, unresolved };
}

/** Every cycle's layers (Tarjan's strongly connected components of more than one layer). */
function cycles(edges: Map<string, Map<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** For a message: the imports that close a cycle (one example file per edge inside it). */
function explain(edges: Map<string, Map<string, string>>, scc: string[]): string[] {
  return scc.flatMap((a) => scc.filter((b) => edges.get(a)?.has(b)).map((b) => `${a} → ${b} (${edges.get(a)!.get(b)})`));
}

const graph = readGraph(MAIN);

test('main/ has no import cycle between its top-level folders', () => {
  expect(graph.unresolved).toEqual([]);
  const found = cycles(graph.edges).map((scc) => explain(graph.edges, scc));
  expect(found).toEqual([]);
  // what the layering is about: the engine does not know the models service, nor the store the chat
  expect(graph.edges.get('engine/')?.has('models/') ?? false).toBe(false);
  expect(graph.edges.get('store/')?.has('chat/') ?? false).toBe(false);
});

test('only main/app/ imports electron', () => {
  expect(graph.electron).toEqual([]);
  // the check sees electron where it is imported
  expect(sourceFiles(path.join(MAIN, 'app')).some((f) => /from 'electron'/.test(fs.readFileSync(f, 'utf8')))).toBe(true);
});

test('the cycle finder finds a cycle, and the graph reader sees imports of every kind', () => {
  const edges = new Map([
    ['a/', new Map([['b/', 'x']])],
    ['b/', new Map([['c/', 'y']])],
    ['c/', new Map([['a/', 'z']])],
    ['d/', new Map([['a/', 'w']])],
  ]);
  expect(cycles(edges)).toEqual([['a/', 'b/', 'c/']]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-imports-'));
  try {
    const root = path.join(dir, 'main');
    for (const f of ['engine/protocol.ts', 'store/index.ts', 'ipc/contract.ts', 'paths.ts']) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), 'export {};\n');
    }
    fs.mkdirSync(path.join(root, 'x'));
    fs.writeFileSync(
      path.join(root, 'x', 'y.ts'),
      "import type { A } from '../engine/protocol';\nexport { B } from '../store';\nconst c = require('../ipc/contract');\nvoid import('../paths');\nimport { app } from 'electron';\n",
    );
    const g = readGraph(root);
    expect([...(g.edges.get('x/')?.keys() ?? [])].sort()).toEqual(['engine/', 'ipc/', 'paths', 'store/']);
    expect(g.electron).toEqual([path.join('main', 'x', 'y.ts')]);
    expect(g.unresolved).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
