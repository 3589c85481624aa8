/**
 * A generated model that writes a script (scripts/make-scripted-model.ts), given as text: a test sees
 * what a real model writes where a random-weight model writes noise.
 */
import { readGgufHeader } from '../../main/gguf/read';
import { writeScriptedModel } from '../../scripts/make-scripted-model';
import { inAddon } from './addon';

/**
 * Writes `from` again as `to`, writing `text` (its special-token text as those tokens, by the model's
 * own tokenizer) from its first token on, and then its end-of-generation token; `end: 'loop'`: instead,
 * the text's last token is its first again (the text names it twice), so the model writes the text
 * round and round. Answers the script's tokens.
 */
export async function writeScriptedText(from: string, to: string, text: string, end: 'eos' | 'loop' = 'eos'): Promise<number[]> {
  const eos = (await readGgufHeader(from)).metadata.get('tokenizer.ggml.eos_token_id')?.value;
  if (typeof eos !== 'number') throw new Error(`${from} has no end-of-generation token`);
  const tokens = await inAddon<number[]>(
    `const m = await addon.loadModel(input.from, { gpuLayers: 0 }).promise;
     try { return Array.from(m.tokenize(input.text, { addSpecial: false, parseSpecial: true })); } finally { await m.dispose(); }`,
    { from, text },
  );
  if (end === 'loop' && tokens[tokens.length - 1] !== tokens[0]) throw new Error('a looping script ends with its first token');
  const script = end === 'loop' ? tokens : [...tokens, eos];
  await writeScriptedModel(from, to, script);
  return script;
}
