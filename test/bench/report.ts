// Shared helpers for the benchmark report.

export interface Row {
  what: string;
  ours: string;
  stock: string;
  ratio: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function printTable(rows: Row[]): void {
  const head: Row = { what: 'benchmark', ours: 'wgm', stock: 'stock', ratio: 'ratio (wgm / stock)' };
  const all = [head, ...rows];
  const w = (k: keyof Row) => Math.max(...all.map((r) => r[k].length));
  const line = (r: Row) =>
    `${r.what.padEnd(w('what'))}  ${r.ours.padStart(w('ours'))}  ${r.stock.padStart(w('stock'))}  ${r.ratio}`;
  console.log(line(head));
  console.log('-'.repeat(line(head).length));
  for (const r of rows) console.log(line(r));
}
