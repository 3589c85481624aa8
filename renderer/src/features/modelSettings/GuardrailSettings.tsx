/**
 * What happens when a load may not fit (off / warn / strict) and the memory kept free on each GPU
 * (the fit margin, also what "auto" GPU layers keeps free). Saved at once, like the theme.
 */
import { KeyboardEvent, useEffect, useState } from 'react';
import { formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { LOAD_FIELDS } from '../../../../main/params';
import { Guardrail, selectSettings, updateSettings } from '../settings/settingsSlice';

/** the fit margin's bounds (main/params) */
const MARGIN = LOAD_FIELDS.fitMarginMiB.meta;

const MODES: { value: Guardrail; label: string; hint: string }[] = [
  { value: 'off', label: 'Off', hint: 'Load anyway.' },
  { value: 'warn', label: 'Warn', hint: 'Ask before a load that may not fit.' },
  { value: 'strict', label: 'Strict', hint: 'Refuse a load that would not fit.' },
];

/** `cpuOnly`: no GPU device, so the fit margin (kept free on GPUs only) is disabled, saying why. */
export function GuardrailSettings({ cpuOnly = false }: { cpuOnly?: boolean }) {
  const dispatch = useAppDispatch();
  const settings = useAppSelector(selectSettings);
  const saveError = useAppSelector((s) => s.settings.saveError);
  const [margin, setMargin] = useState(settings ? String(settings.fitMarginMiB) : '');
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const saved = settings?.fitMarginMiB;
  useEffect(() => setMargin(saved === undefined ? '' : String(saved)), [saved]);

  if (!settings) return null;

  const commitMargin = async () => {
    const n = Number(margin.trim());
    if (margin.trim() === '' || !Number.isInteger(n) || n < MARGIN.min! || n > MARGIN.max!) {
      setError(`The fit margin must be a whole number of MiB from ${formatInt(MARGIN.min!)} to ${formatInt(MARGIN.max!)}.`);
      return;
    }
    setError(null);
    if (n === settings.fitMarginMiB) return;
    const r = await dispatch(updateSettings({ fitMarginMiB: n }));
    setNote(updateSettings.fulfilled.match(r) ? `Fit margin saved: ${formatInt(n)} MiB.` : null);
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void commitMargin();
    }
  };

  return (
    <fieldset className="guardrail">
      <legend>When a model may not fit</legend>
      <div className="radio-row" role="radiogroup" aria-label="Memory guardrail">
        {MODES.map((m) => (
          <label key={m.value} className={`radio-card${settings.guardrail === m.value ? ' checked' : ''}`} title={m.hint}>
            <input
              type="radio"
              name="guardrail"
              value={m.value}
              checked={settings.guardrail === m.value}
              aria-label={m.label}
              aria-describedby={`guardrail-${m.value}-hint`}
              onChange={() => {
                setNote(null);
                void dispatch(updateSettings({ guardrail: m.value }));
              }}
            />
            <span>
              {m.label}
              <span className="hint" id={`guardrail-${m.value}-hint`}>
                {m.hint}
              </span>
            </span>
          </label>
        ))}
      </div>
      <div className="field margin-field">
        <label htmlFor="fit-margin">Fit margin (MiB)</label>
        <input
          id="fit-margin"
          type="number"
          inputMode="numeric"
          min={MARGIN.min}
          max={MARGIN.max}
          step={256}
          value={margin}
          aria-invalid={error ? true : undefined}
          disabled={cpuOnly}
          aria-describedby={cpuOnly ? 'fit-margin-no-gpu fit-margin-hint' : 'fit-margin-hint'}
          onChange={(e) => setMargin(e.target.value)}
          onBlur={() => void commitMargin()}
          onKeyDown={onKey}
        />
        <span className="hint" id="fit-margin-hint">
          Memory kept free on each GPU: a load needing more is one that may not fit, and auto GPU layers stops short of it.
        </span>
        {cpuOnly && (
          <span className="hint" id="fit-margin-no-gpu">
            No GPU device is available, so no margin applies.
          </span>
        )}
      </div>
      {(error || saveError) && (
        <p role="alert" className="inline-error">
          {error ?? saveError}
        </p>
      )}
      <p role="status" className="muted small-note">
        {note}
      </p>
    </fieldset>
  );
}
