// `npm run bench`: every benchmark, each measured beside the stock tool in the same run and
// reported as a ratio. Nothing here is a pass/fail test.

import { benchEngine } from './engine.js';
import { benchFlood } from './flood.js';
import { printTable, type Row } from './report.js';
import { benchSelect } from './select.js';
import { benchSetconf } from './setconf.js';
import { benchStartup } from './startup.js';
import { benchTimers } from './timers.js';

const rows: Row[] = [];
rows.push(...benchStartup());
rows.push(...(await benchSetconf()));
rows.push(...(await benchEngine()));
rows.push(...(await benchFlood()));
rows.push(...(await benchTimers({ rekey: process.env['WGM_BENCH_REKEY'] !== '0' })));
// About 10 minutes (minute-long settle and upgrade rounds); WGM_BENCH_SELECT=0 leaves it out.
if (process.env['WGM_BENCH_SELECT'] !== '0') rows.push(...(await benchSelect()));
printTable(rows);
