/**
 * The command line of scripts/make-test-model (the writer is make-test-model.ts):
 *   scripts/make-test-model --size tiny|fast|bench|1b [--vocab llama-spm] [--seed N] [--pooling mean] --out FILE
 */
import path from 'path';
import { parseArgs } from 'util';
import { TEST_MODEL_VOCABS, testModelOptionsSchema, writeTestModel } from './make-test-model';

const USAGE = `usage: scripts/make-test-model --size tiny|fast|bench|1b --out FILE [options]

Writes a llama-architecture GGUF with seeded random F16 weights and a real llama.cpp tokenizer.
Prints one JSON line: {"path", "parameters", "bytes", ...}.

options:
  --size tiny|fast|bench|1b
                          tiny: 64-dim, 2 layers (a few MB); fast: 640-dim, 10 layers (~175 MB);
                          bench: 768-dim, 12 layers (~270 MB);
                          1b: Llama 3.2 1B's layers, 2048-dim, 16 layers (~2.1 GB)
  --out FILE              output path
  --vocab NAME            tokenizer: ${TEST_MODEL_VOCABS.join(', ')} (default llama-spm)
  --seed N                PRNG seed, 0..4294967295 (default 1)
  --pooling MODE          none|mean|cls|last|rank: embedding-model variant (default none)
  --non-causal            bidirectional attention (llama.attention.causal = false), as in BERT-style embedders
  --untied                write output.weight even for sizes that tie it to the embeddings
  --chat-template TEXT    Jinja chat template (default: ChatML)
  --name NAME             general.name
  --vocab-dir DIR         folder with ggml-vocab-*.gguf (default build/llama.cpp/models)
  --experts N             a mixture-of-experts model (as Mixtral) with N experts per layer (default 0: dense)
  --experts-used N        experts each token is routed to (default 2)
  --residual-scale X      scale the layers' output projections by X (0 < X <= 1, default 1): with tied
                          embeddings, a model that repeats its input token by a wide margin
  --block-count N         N layers instead of the size's: below it, the size's first N layers and its
                          embeddings (the same weights): a smaller model of the family, a draft for it
  -h, --help              this help`;

/** Runs the CLI with `argv` (without node and script). Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        size: { type: 'string' }, out: { type: 'string' }, vocab: { type: 'string' }, seed: { type: 'string' },
        pooling: { type: 'string' }, 'non-causal': { type: 'boolean' }, untied: { type: 'boolean' }, 'chat-template': { type: 'string' }, name: { type: 'string' },
        'vocab-dir': { type: 'string' }, experts: { type: 'string' }, 'experts-used': { type: 'string' }, 'residual-scale': { type: 'string' }, 'block-count': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`make-test-model: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const seed = values.seed === undefined ? undefined : /^\d+$/.test(values.seed) ? Number(values.seed) : NaN;
  const parsed = testModelOptionsSchema.safeParse({
    out: values.out, size: values.size, vocab: values.vocab, seed, pooling: values.pooling, nonCausal: values['non-causal'], untied: values.untied,
    chatTemplate: values['chat-template'], name: values.name, vocabDir: values['vocab-dir'],
    experts: values.experts === undefined ? undefined : /^\d+$/.test(values.experts) ? Number(values.experts) : NaN,
    expertsUsed: values['experts-used'] === undefined ? undefined : /^\d+$/.test(values['experts-used']) ? Number(values['experts-used']) : NaN,
    blockCount: values['block-count'] === undefined ? undefined : /^\d+$/.test(values['block-count']) ? Number(values['block-count']) : NaN,
    residualScale: values['residual-scale'] === undefined ? undefined : /^[0-9.eE+-]+$/.test(values['residual-scale']) ? Number(values['residual-scale']) : NaN,
  });
  if (!parsed.success) {
    const flag = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    const problems = parsed.error.issues.map((i) => `${flag(i.path.join('.'))}: ${i.message}`).join('; ');
    process.stderr.write(`make-test-model: ${problems}\n${USAGE}\n`);
    return 2;
  }
  try {
    const result = await writeTestModel(parsed.data);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`make-test-model: ${(err as Error).message}\n`);
    return 1;
  }
}

/**
 * True when this module is the program: run directly, or bundled on its own by scripts/run-ts.js
 * (the bundle is then argv[1] and named after this file). False when imported, including when
 * bundled into another entry point.
 */
function isCliEntry(): boolean {
  if (require.main === module) return true;
  const entry = process.argv[1];
  return entry !== undefined && path.resolve(entry) === __filename && /make-test-model-cli\.[cm]?js$/.test(entry);
}

if (isCliEntry()) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`make-test-model: ${String(err)}\n`);
    process.exitCode = 1;
  });
}
