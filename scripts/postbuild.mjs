// Makes the two commands runnable straight from the build (npm only chmods bins it links).
import { chmodSync, existsSync } from 'node:fs';

for (const bin of ['dist/src/bin/wgm.js', 'dist/src/bin/wgm-engine.js']) {
  if (existsSync(bin)) chmodSync(bin, 0o755);
}
