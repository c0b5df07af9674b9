// `npm run bench`: every benchmark, each measured beside the stock tool in the same run and
// reported as a ratio. Nothing here is a pass/fail test.

import { printTable, type Row } from './report.js';
import { benchStartup } from './startup.js';

const rows: Row[] = [];
rows.push(...benchStartup());
printTable(rows);
