// The browser SDK's size as shipped to a page that imports /static/levelchat/levelchat.js: bundled and minified
// with esbuild (dev only: the SDK itself ships unbundled), then gzipped. Prints bytes against the 25 KB target.
// `node bench/sdk-size.mjs --json` prints one JSON object (used by bench/sdk.py).
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const TARGET = 25 * 1024;
const entry = fileURLToPath(new URL('../django_levelchat/static/levelchat/levelchat.js', import.meta.url));

const result = await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  write: false,
  legalComments: 'none',
});
const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
const report = { minified_bytes: code.length, gzip_bytes: gzipped, target_bytes: TARGET, within_target: gzipped <= TARGET };
if (process.argv.includes('--json')) console.log(JSON.stringify(report));
else {
  console.log(`levelchat.js bundled + minified: ${code.length} bytes`);
  console.log(`gzipped: ${gzipped} bytes (${(gzipped / 1024).toFixed(1)} KiB) — target ≤ ${TARGET} bytes (25 KiB): ${gzipped <= TARGET ? 'within' : 'OVER'}`);
}
