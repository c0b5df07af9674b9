// A config file's text as lines that know what the two readers of the file see in them: wg
// (parse.ts: whitespace deleted, `[Interface]`/`[Peer]` sections) and wg-quick (quick.ts:
// key and value trimmed, only inside its own `[Interface]`). The editor (edit.ts) changes
// single lines of this and inserts new ones; everything it does not touch is emitted as it was.

import { cleanLine } from './parse.js';

export interface LineInfo {
  /** The line without its `\n` (a CR of a CRLF file stays). */
  raw: string;
  /** wg's key, lower case, whitespace deleted; '' for blank, comment and header lines. */
  wgKey: string;
  /** wg's value: everything after the first `=`, whitespace deleted. */
  wgValue: string;
  /** wg-quick's key, lower case, trimmed; meaningful when `quickIface`. */
  quickKey: string;
  /** wg-quick's value: after the first `=` up to any `#`, trimmed. */
  quickValue: string;
  /** Index of the wg section this line is in; -1 before the first header. */
  section: number;
  /** Inside the section wg-quick takes for `[Interface]` (its keys are read only there). */
  quickIface: boolean;
  /** Nothing wg reads: an empty line or a comment. */
  blank: boolean;
  /** Only a comment (not an empty line). */
  comment: boolean;
}

export interface Section {
  kind: 'interface' | 'peer';
  /** The header line. */
  header: number;
  /** First line of the comment block directly above the header (no empty line between). */
  start: number;
  /** One past the section's last line: the next section's `start`, or the number of lines. */
  end: number;
}

export interface Lines {
  lines: LineInfo[];
  sections: Section[];
  /** The text ended in a newline. */
  finalNewline: boolean;
  /** Most lines end in CR: new lines get one too. */
  crlf: boolean;
  /** The file writes `Key=value` rather than `Key = value`. */
  compact: boolean;
}

const QUICK_SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

function lower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

export function scanLines(text: string): Lines {
  const parts = text.split('\n');
  const finalNewline = parts[parts.length - 1] === '';
  if (finalNewline) parts.pop();
  const lines: LineInfo[] = [];
  const sections: Section[] = [];
  let quickIface = false;
  for (const raw of parts) {
    const clean = cleanLine(raw);
    const lc = lower(clean);
    const stripped = raw.replaceAll('\0', '').split('#')[0]!;
    const eq = stripped.indexOf('=');
    const quickKey = lower((eq < 0 ? stripped : stripped.slice(0, eq)).replace(QUICK_SPACE, ''));
    const quickValue = (eq < 0 ? stripped : stripped.slice(eq + 1)).replace(QUICK_SPACE, '');
    if (quickKey.startsWith('[')) quickIface = false;
    if (quickKey === '[interface]') quickIface = true;
    if (lc === '[interface]' || lc === '[peer]') {
      sections.push({ kind: lc === '[peer]' ? 'peer' : 'interface', header: lines.length, start: 0, end: 0 });
    }
    const header = lc === '[interface]' || lc === '[peer]';
    const ceq = clean.indexOf('=');
    lines.push({
      raw,
      wgKey: header || ceq < 0 ? '' : lc.slice(0, ceq),
      wgValue: header || ceq < 0 ? '' : clean.slice(ceq + 1),
      quickKey,
      quickValue,
      section: sections.length - 1,
      quickIface,
      blank: clean === '',
      comment: clean === '' && raw.trim() !== '',
    });
  }
  for (let s = 0; s < sections.length; s++) {
    const sec = sections[s]!;
    const floor = s === 0 ? 0 : sections[s - 1]!.header + 1;
    let start = sec.header;
    while (start > floor && lines[start - 1]!.comment) start--;
    sec.start = start;
    if (s > 0) sections[s - 1]!.end = start;
  }
  if (sections.length > 0) sections[sections.length - 1]!.end = lines.length;
  // The comment block directly above a header belongs to the header's section.
  sections.forEach((sec, s) => {
    for (let i = sec.start; i < sec.header; i++) lines[i]!.section = s;
  });
  const crlf = lines.length > 0 && lines.filter((l) => l.raw.endsWith('\r')).length * 2 > lines.length;
  const first = lines.find((l) => !l.blank && l.raw.split('#')[0]!.includes('='))?.raw ?? '';
  const compact = /^[ \t]*[^ \t=#]+=/.test(first) && !/=[ \t]/.test(first);
  return { lines, sections, finalNewline, crlf, compact };
}

/** The line with its value replaced; key spelling, spacing and a trailing comment kept. */
export function withValue(raw: string, value: string): string {
  const eq = raw.indexOf('=');
  let vs = eq + 1;
  while (vs < raw.length && (raw[vs] === ' ' || raw[vs] === '\t')) vs++;
  const hash = raw.indexOf('#', eq);
  let ve = hash < 0 ? raw.length : hash;
  while (ve > vs && /\s/.test(raw[ve - 1]!)) ve--;
  return raw.slice(0, vs) + value + raw.slice(ve);
}

/** Words of a wg-quick Address/DNS value: commas and blanks separate them. */
export function quickWords(value: string): string[] {
  return value.split(/[ ,\t\n]+/).filter((w) => w !== '');
}

/** Items of a wg list value (AllowedIPs, Endpoint): whitespace already gone, commas separate. */
export function wgWords(value: string): string[] {
  return value.split(',').filter((w) => w !== '');
}
