// Writes a gzip (.gz) and a brotli (.br) copy beside each text file of the built UI (DIR, the Vite
// output), for the server to send by Accept-Encoding (core/http/static_files). A copy that saves
// less than a tenth is not written; neither are copies of files under 1 KiB.
//
//   node compress.mjs DIR
import { readdirSync, readFileSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node compress.mjs DIR');
  process.exit(2);
}
const TEXT = /\.(html|js|mjs|css|svg|json|map|txt)$/;

function* files(d) {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else yield p;
  }
}

for (const p of [...files(dir)]) {
  if (/\.(gz|br)$/.test(p)) {
    unlinkSync(p);  // from an earlier run: written again below
    continue;
  }
  if (!TEXT.test(p)) continue;
  const raw = readFileSync(p);
  if (raw.length < 1024) continue;
  const copies = {
    gz: gzipSync(raw, { level: 9 }),
    br: brotliCompressSync(raw, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT },
    }),
  };
  for (const [ext, data] of Object.entries(copies)) if (data.length <= raw.length * 0.9) writeFileSync(`${p}.${ext}`, data);
}
