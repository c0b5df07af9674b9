// The editing operations of the save editor (edit.ts) on a scanned file (edit-lines.ts):
// replace a line's value, delete a line, insert lines after one, append at the end, and the
// two ways a key is brought to a target: a key with one value, and a list key whose words
// add up over several lines. The text is built at the end; untouched lines come out as read.

import { type Lines, type Section, withValue } from './edit-lines.js';

export interface Target {
  norm: string;
  text: string;
}

export class Editor {
  readonly replace = new Map<number, string | null>();
  readonly after = new Map<number, string[]>();
  readonly tail: string[] = [];
  constructor(readonly f: Lines) {}

  line(key: string, value: string): string {
    return `${key}${this.f.compact ? '=' : ' = '}${value}${this.f.crlf ? '\r' : ''}`;
  }
  set(i: number, value: string): void {
    this.replace.set(i, withValue(this.f.lines[i]!.raw, value));
  }
  drop(i: number): void {
    this.replace.set(i, null);
  }
  insert(i: number, text: string): void {
    const list = this.after.get(i) ?? [];
    list.push(text);
    this.after.set(i, list);
  }

  /** Last line of a section that wg or wg-quick reads (where new keys go), else its header. */
  anchor(sec: Section): number {
    for (let i = sec.end - 1; i > sec.header; i--) if (!this.f.lines[i]!.blank) return i;
    return sec.header;
  }

  /** A key that holds one value (the last line wins). `current`/`target` are normal forms. */
  single(
    items: number[],
    current: string | undefined,
    target: Target | undefined,
    key: string,
    anchor: number,
  ) {
    if (current === target?.norm) return;
    if (!target) {
      for (const i of items) this.drop(i);
      return;
    }
    if (items.length > 0) this.set(items[items.length - 1]!, target.text);
    else this.insert(anchor, this.line(key, target.text));
  }

  /**
   * A key whose lines add up to one list. Words still wanted stay as written; `inOrder` says
   * whether the resulting order (normal forms) is acceptable, else the lines are rewritten.
   */
  list(
    items: Array<{ line: number; words: string[] }>,
    norm: (w: string) => string,
    targets: Target[],
    o: {
      key: string;
      anchor: number;
      perLine: boolean;
      unordered?: boolean;
      /** Words that stay whatever the targets (not counted against them). */
      sticky?: (w: string) => boolean;
      inOrder: (result: string[]) => boolean;
    },
  ): void {
    const want = new Map<string, number>();
    for (const t of targets) want.set(t.norm, (want.get(t.norm) ?? 0) + 1);
    const kept: string[] = [];
    const plan = items.map(({ line, words }) => {
      const keep = words.filter((w) => {
        if (o.sticky?.(w)) return true;
        const n = norm(w);
        const left = want.get(n) ?? 0;
        if (left === 0) return false;
        want.set(n, left - 1);
        kept.push(n);
        return true;
      });
      return { line, words, keep };
    });
    const missing: Target[] = [];
    for (const t of targets) {
      const left = want.get(t.norm) ?? 0;
      if (left > 0) {
        missing.push(t);
        want.set(t.norm, left - 1);
      }
    }
    const last = items.length > 0 ? items[items.length - 1]!.line : o.anchor;
    if (!o.inOrder([...kept, ...missing.map((t) => t.norm)])) {
      for (const { line } of items) this.drop(line);
      const sticky = items.flatMap((it) => it.words.filter((w) => o.sticky?.(w)));
      this.add(items[0]?.line ?? o.anchor, [...targets, ...sticky.map((w) => ({ norm: w, text: w }))], o);
      return;
    }
    // In an unordered list, a line whose words are all gone takes the new ones (its comment stays).
    for (const { line, words, keep } of plan) {
      if (keep.length === words.length) continue;
      if (keep.length > 0) this.set(line, keep.join(', '));
      else if (!o.unordered || missing.length === 0) this.drop(line);
      else
        this.set(
          line,
          missing
            .splice(0)
            .map((t) => t.text)
            .join(', '),
        );
    }
    this.add(last, missing, o);
  }

  private add(at: number, targets: Target[], o: { key: string; perLine: boolean }): void {
    if (targets.length === 0) return;
    if (o.perLine) for (const t of targets) this.insert(at, this.line(o.key, t.text));
    else this.insert(at, this.line(o.key, targets.map((t) => t.text).join(', ')));
  }

  build(): string {
    const out: string[] = [];
    this.f.lines.forEach((l, i) => {
      const r = this.replace.get(i);
      if (r === undefined) out.push(l.raw);
      else if (r !== null) out.push(r);
      out.push(...(this.after.get(i) ?? []));
    });
    if (this.tail.length > 0) {
      while (out.length > 0 && out[out.length - 1]!.trim() === '') out.pop();
      if (out.length > 0) out.push(this.f.crlf ? '\r' : '');
      out.push(...this.tail);
    }
    const nl = this.f.finalNewline || this.tail.length > 0;
    return out.join('\n') + (nl && out.length > 0 ? '\n' : '');
  }
}

/** The last parseable value among these lines, through `parse`; undefined if none or zero. */
export function lastValue(
  f: Lines,
  items: number[],
  parse: (v: string) => string | undefined,
): string | undefined {
  const i = items[items.length - 1];
  if (i === undefined) return undefined;
  try {
    return parse(f.lines[i]!.wgValue);
  } catch {
    return `invalid ${f.lines[i]!.wgValue}`;
  }
}
