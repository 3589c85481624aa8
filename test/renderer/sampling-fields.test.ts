/**
 * The sampling form is generated from main/params: every chat setting has a field, and each kind of
 * field (numbers, choices, JSON lists, on/off) parses its text with the definition's bounds and rules.
 */
import { CHAT_SETTING_KEYS } from '../../main/params';
import { parseSampling, SAMPLING_FIELDS, samplingToStrings } from '../../renderer/src/features/settings/SamplingFields';

test('every chat setting has a field, the new samplers among the advanced ones', () => {
  expect(SAMPLING_FIELDS.map((f) => f.key).sort()).toEqual([...CHAT_SETTING_KEYS].sort());
  const advanced = SAMPLING_FIELDS.filter((f) => f.advanced).map((f) => f.key);
  for (const k of ['dryMultiplier', 'xtcProbability', 'mirostat', 'topNSigma', 'dynatempRange', 'nProbs'] as const) expect(advanced).toContain(k);
  expect(SAMPLING_FIELDS.find((f) => f.key === 'temperature')!.advanced).toBe(false);
});

test('choices, JSON lists and the settings rules', () => {
  expect(parseSampling({ mirostat: '2', drySequenceBreakers: '["\\n", "###"]', maxTokens: '-1' })).toEqual({
    value: { mirostat: 2, drySequenceBreakers: ['\n', '###'], maxTokens: -1 },
  });
  expect(parseSampling({ mirostat: '3' })).toEqual({ error: 'Mirostat must be one of Off, Mirostat, Mirostat 2.0.' });
  expect(parseSampling({ stop: 'END' })).toEqual({ error: 'Stop strings must be a JSON list of strings, like ["\\n", "###"].' });
  expect(parseSampling({ nProbs: '21' })).toEqual({ error: 'Token probabilities must be a whole number between 0 and 20.' });
  expect(parseSampling({ maxTokens: '0' })).toEqual({ error: 'Max tokens: maxTokens must be -1 or at least 1' });
  // at least 0.01: a smaller positive value is 0 as a float in llama.cpp
  expect(parseSampling({ repeatPenalty: '0' })).toEqual({ error: 'Repeat penalty must be between 0.01 and 10.' });
  expect(parseSampling({ repeatPenalty: '1e-300' })).toEqual({ error: 'Repeat penalty must be between 0.01 and 10.' });
});

test('settings → form text → settings', () => {
  const s = { temperature: 0.5, mirostat: 1 as const, stop: ['a', 'b'], nProbs: 4 };
  const text = samplingToStrings(s);
  expect(text).toEqual({ temperature: '0.5', mirostat: '1', stop: '["a","b"]', nProbs: '4' });
  expect(parseSampling(text)).toEqual({ value: s });
});

test('an on/off setting: a choice of default, on and off, and nothing else', () => {
  expect(parseSampling({ preserveReasoning: 'false' })).toEqual({ value: { preserveReasoning: false } });
  expect(parseSampling({ preserveReasoning: 'true' })).toEqual({ value: { preserveReasoning: true } });
  expect(parseSampling({ preserveReasoning: '' })).toEqual({ value: {} });
  expect(parseSampling({ preserveReasoning: 'yes' })).toEqual({ error: 'Keep earlier reasoning must be on or off.' });
  expect(samplingToStrings({ preserveReasoning: false })).toEqual({ preserveReasoning: 'false' });
});
