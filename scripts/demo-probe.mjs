// The traffic prober of `npm run demo` (scripts/demo.sh): small UDP datagrams through the
// tunnel, so that the demo needs neither ping nor iperf. Three modes:
//
//   node demo-probe.mjs echo PORT
//       answers every datagram on 0.0.0.0:PORT with the same bytes (run on the far side);
//   node demo-probe.mjs first HOST:PORT [--timeout S]
//       sends a probe every 100 ms until one is answered; prints the time to that first reply;
//   node demo-probe.mjs cut HOST:PORT [--timeout S] -- COMMAND ARGS...
//       probes every 100 ms; after 2 s of replies runs COMMAND (the path cut), then waits, at most
//       S seconds, for a reply to a probe sent after the cut, and prints the gap in the replies
//       and the round-trip times before and after.
//
// Exit status: 0 when the replies came (or, for echo, on SIGTERM), 1 when they did not within
// the timeout, 2 on bad arguments. Times are from performance.now(), in milliseconds.

import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';

const INTERVAL_MS = 100;
const WARMUP_MS = 2000;
const AFTER_MS = 2000;

function usage(message) {
  process.stderr.write(`demo-probe: ${message}\n`);
  process.exit(2);
}

function hostPort(text) {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text ?? '');
  if (!m) usage(`expected HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1], port: Number(m[2]) };
}

function option(args, name, fallback) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) usage(`${name} needs a positive number of seconds`);
  return v;
}

const median = (xs) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const ms = (x) => `${x.toFixed(1)} ms`;
const secs = (x) => `${(x / 1000).toFixed(1)} s`;

function echo(port) {
  const sock = createSocket({ type: 'udp4' });
  sock.on('message', (msg, from) => sock.send(msg, from.port, from.address));
  sock.bind(port, '0.0.0.0', () => process.stdout.write(`echo: listening on UDP port ${port}\n`));
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

/** A probe every INTERVAL_MS; `onReply(seq, sentAt, rtt)` for each answer. */
function prober(target, onReply) {
  const sock = createSocket({ type: isIPv6(target.host) ? 'udp6' : 'udp4' });
  const sentAt = new Map();
  let seq = 0;
  sock.on('message', (msg) => {
    if (msg.length < 4) return;
    const n = msg.readUInt32BE(0);
    const t = sentAt.get(n);
    if (t === undefined) return;
    sentAt.delete(n);
    onReply(n, t, performance.now() - t);
  });
  // Sending fails while no route exists (the cut path); the probe just counts as lost.
  sock.on('error', () => {});
  const timer = setInterval(() => {
    const buf = Buffer.alloc(32);
    buf.writeUInt32BE(seq, 0);
    sentAt.set(seq, performance.now());
    seq++;
    sock.send(buf, target.port, target.host, () => {});
  }, INTERVAL_MS);
  return {
    sent: () => seq,
    stop: () => {
      clearInterval(timer);
      sock.close();
    },
  };
}

function first(target, timeoutS) {
  const start = performance.now();
  const p = prober(target, (_n, _t, rtt) => {
    p.stop();
    clearTimeout(give);
    process.stdout.write(
      `first reply after ${ms(performance.now() - start)} (${p.sent()} probes sent, round trip ${ms(rtt)})\n`,
    );
    process.exit(0);
  });
  const give = setTimeout(() => {
    p.stop();
    process.stdout.write(`no reply within ${timeoutS} s (${p.sent()} probes sent)\n`);
    process.exit(1);
  }, timeoutS * 1000);
}

function cut(target, timeoutS, command) {
  const before = [];
  const after = [];
  let lastBefore = Number.NaN;
  let cutAt;
  let cutSeq;
  let back;
  let backSeq;
  const p = prober(target, (n, _sent, rtt) => {
    const now = performance.now();
    if (cutAt === undefined) {
      before.push(rtt);
      lastBefore = now;
    } else if (n >= cutSeq) {
      if (back === undefined) {
        back = now;
        backSeq = n;
        setTimeout(finish, AFTER_MS);
      }
      after.push(rtt);
    }
  });
  const doCut = () => {
    if (before.length === 0) {
      p.stop();
      process.stdout.write(`no replies in the first ${secs(WARMUP_MS)}: nothing to cut\n`);
      process.exit(1);
    }
    process.stdout.write(
      `before the cut: ${before.length} replies, round trip ${ms(median(before))} (median)\n`,
    );
    process.stdout.write(`cutting: ${command.join(' ')}\n`);
    execFileSync(command[0], command.slice(1), { stdio: 'inherit' });
    cutAt = performance.now();
    cutSeq = p.sent();
    setTimeout(() => {
      if (back === undefined) finish();
    }, timeoutS * 1000);
  };
  setTimeout(doCut, WARMUP_MS);
  function finish() {
    p.stop();
    if (back === undefined) {
      process.stdout.write(
        `no reply within ${timeoutS} s of the cut (${p.sent() - cutSeq} probes unanswered)\n`,
      );
      process.exit(1);
    }
    process.stdout.write(
      `traffic flows again ${secs(back - cutAt)} after the cut ` +
        `(no reply for ${secs(back - lastBefore)}, ${backSeq - cutSeq} probes lost)\n`,
    );
    process.stdout.write(
      `after the cut: ${after.length} replies, round trip ${ms(median(after))} (median)\n`,
    );
    process.exit(0);
  }
}

const [mode, where, ...rest] = process.argv.slice(2);
if (mode === 'echo') {
  const port = Number(where);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) usage(`bad port ${where}`);
  echo(port);
} else if (mode === 'first') {
  first(hostPort(where), option(rest, '--timeout', 30));
} else if (mode === 'cut') {
  const dd = rest.indexOf('--');
  if (dd < 0 || dd === rest.length - 1) usage('cut needs -- COMMAND ARGS...');
  cut(hostPort(where), option(rest.slice(0, dd), '--timeout', 60), rest.slice(dd + 1));
} else {
  usage('mode must be echo, first or cut');
}
