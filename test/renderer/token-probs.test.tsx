/** @jest-environment jsdom */
/**
 * A reply's tokens with their probabilities (renderer/src/features/chat/TokenProbs.tsx): every token is a
 * button a pointer can reach, a token of line breaks alone or of nothing too (a button holding only a
 * line break has no width: Chromium reports it not visible, and no hover reaches it, as an e2e run of
 * a reply starting with "\n" found); its name says the text with whitespace made visible.
 */
import { render, screen, within } from '@testing-library/react';
import { showToken, tokenFace, TokenProbs } from '../../renderer/src/features/chat/TokenProbs';

const prob = (text: string, logprob = -1) => ({ id: 1, text, logprob, top: [] });

test('a token of line breaks or of nothing shows a mark beside its line breaks; others as written', () => {
  expect(tokenFace('\n')).toBe('↵\n');
  expect(tokenFace('a\n\nb')).toBe('a↵\n↵\nb');
  expect(tokenFace('')).toBe('∅');
  expect(tokenFace(' the')).toBe(' the');
  expect(showToken('\n\t')).toBe('↵⇥');
});

test('each token is a button named by its text and log-probability, the line breaks kept in the run', () => {
  render(<TokenProbs probs={[prob('Hello'), prob('\n', -10.93), prob(''), prob(' world')]} />);
  const group = screen.getByRole('group', { name: 'Tokens with their probabilities' });
  const buttons = within(group).getAllByRole('button');
  expect(buttons.map((b) => b.getAttribute('aria-label'))).toEqual(['Hello: log-probability -1.00', '↵: log-probability -10.93', '∅: log-probability -1.00', ' world: log-probability -1.00']);
  expect(buttons.map((b) => b.textContent)).toEqual(['Hello', '↵\n', '∅', ' world']);
});
