/**
 * A small virtualized list for items of varying, changing height (chat messages). Only the items
 * in (or near) the viewport are mounted; the rest are spacers sized from measured heights (or an
 * estimate). Sticks to the bottom while the user is there, so a streaming reply stays in view.
 */
import { ReactNode, useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';

export interface Range {
  start: number;
  end: number;
  /** px above the first mounted item */
  before: number;
  /** px below the last mounted item */
  after: number;
}

/** Items mounted before the viewport is measured (and in jsdom, which has no layout). */
export const UNMEASURED_COUNT = 40;

/** Which items to mount for this scroll position (pure; heights in px, one per item). */
export function computeRange(heights: readonly number[], scrollTop: number, viewport: number, overscan: number): Range {
  const n = heights.length;
  if (n === 0) return { start: 0, end: 0, before: 0, after: 0 };
  const sum = (from: number, to: number) => {
    let s = 0;
    for (let i = from; i < to; i++) s += heights[i];
    return s;
  };
  if (viewport <= 0) {
    const start = Math.max(0, n - UNMEASURED_COUNT);
    return { start, end: n, before: sum(0, start), after: 0 };
  }
  const top = Math.max(0, scrollTop - overscan);
  const bottom = scrollTop + viewport + overscan;
  let y = 0;
  let start = 0;
  while (start < n - 1 && y + heights[start] <= top) y += heights[start++];
  const before = y;
  let end = start;
  while (end < n && y < bottom) y += heights[end++];
  return { start, end, before, after: sum(end, n) };
}

const AT_BOTTOM_PX = 48;

export interface VirtualListProps {
  keys: readonly string[];
  render: (key: string, index: number) => ReactNode;
  /** px for an item not measured yet */
  estimate?: number;
  overscan?: number;
  className?: string;
  role?: string;
  'aria-label'?: string;
  /** scrolls this item into view whenever seq changes */
  scrollTo?: { key: string; seq: number } | null;
  onScrolledTo?: () => void;
  /** a new value (e.g. another thread) goes back to the bottom */
  resetKey?: string | null;
  /** asks to follow the bottom again (e.g. after sending a message) */
  followSeq?: number;
  /** while true (a reply is streaming), growth of the items keeps the bottom in view */
  follow?: boolean;
  footer?: ReactNode;
}

export function VirtualList(props: VirtualListProps) {
  const { keys, render, estimate = 120, overscan = 600 } = props;
  const ref = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const nodes = useRef(new Map<string, HTMLElement>());
  const refs = useRef(new Map<string, (el: HTMLElement | null) => void>());
  const observer = useRef<ResizeObserver | null>(null);
  const atBottom = useRef(true);
  // growth of items follows the bottom while streaming, and briefly after opening (fonts, math settle);
  // otherwise (a reasoning block opened by the reader) the view stays where it is
  const settleUntil = useRef(0);
  const follow = useRef(!!props.follow);
  follow.current = !!props.follow;
  const [, setVersion] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(0);

  const stick = useCallback(() => {
    const el = ref.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, []);

  useEffect(() => {
    if (typeof ResizeObserver === 'undefined') return;
    const obs = new ResizeObserver((entries) => {
      let changed = false;
      for (const e of entries) {
        const target = e.target as HTMLElement;
        if (target === ref.current) {
          setViewport(target.clientHeight);
          continue;
        }
        const key = target.dataset.vkey;
        const h = target.offsetHeight;
        if (key && h > 0 && heights.current.get(key) !== h) {
          heights.current.set(key, h);
          changed = true;
        }
      }
      // before paint: keep the bottom in view as the streaming reply grows
      if (follow.current || Date.now() < settleUntil.current) stick();
      if (changed) setVersion((v) => v + 1);
    });
    observer.current = obs;
    if (ref.current) obs.observe(ref.current);
    for (const el of nodes.current.values()) obs.observe(el);
    return () => {
      obs.disconnect();
      observer.current = null;
    };
  }, [stick]);

  const refFor = (key: string) => {
    let fn = refs.current.get(key);
    if (!fn) {
      fn = (el: HTMLElement | null) => {
        const prev = nodes.current.get(key);
        if (prev && prev !== el) observer.current?.unobserve(prev);
        if (el) {
          nodes.current.set(key, el);
          observer.current?.observe(el);
          if (el.offsetHeight > 0) heights.current.set(key, el.offsetHeight);
        } else {
          nodes.current.delete(key);
          refs.current.delete(key);
        }
      };
      refs.current.set(key, fn);
    }
    return fn;
  };

  useLayoutEffect(() => {
    if (ref.current) setViewport(ref.current.clientHeight);
  }, []);

  useLayoutEffect(() => {
    atBottom.current = true;
    settleUntil.current = Date.now() + 1500;
  }, [props.resetKey, props.followSeq]);

  // after every render of the list (items added, heights measured): follow the bottom
  useLayoutEffect(stick);

  const lastJump = useRef(0);
  useEffect(() => {
    const target = props.scrollTo;
    const el = ref.current;
    if (!target || !el || target.seq === lastJump.current) return;
    const index = keys.indexOf(target.key);
    if (index < 0) return; // not loaded yet: runs again when keys change
    lastJump.current = target.seq;
    atBottom.current = false;
    let offset = 0;
    for (let i = 0; i < index; i++) offset += heights.current.get(keys[i]) ?? estimate;
    el.scrollTop = Math.max(0, offset - 16);
    setScrollTop(el.scrollTop);
    // once mounted and measured, put it in the middle
    const settle = () => nodes.current.get(target.key)?.scrollIntoView?.({ block: 'center' });
    if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => requestAnimationFrame(settle));
    props.onScrolledTo?.();
  });

  const onScroll = () => {
    const el = ref.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < AT_BOTTOM_PX;
  };

  const sizes = keys.map((k) => heights.current.get(k) ?? estimate);
  const r = computeRange(sizes, scrollTop, viewport, overscan);
  return (
    <div ref={ref} className={props.className} role={props.role} aria-label={props['aria-label']} aria-relevant="additions" onScroll={onScroll}>
      <div style={{ height: r.before }} aria-hidden="true" className="vspacer" />
      {keys.slice(r.start, r.end).map((k, i) => (
        <div key={k} data-vkey={k} ref={refFor(k)} className="vitem">
          {render(k, r.start + i)}
        </div>
      ))}
      <div style={{ height: r.after }} aria-hidden="true" className="vspacer" />
      {props.footer}
    </div>
  );
}
