// Writes the web-app icons (public/icons/icon-{192,512}.png and a maskable 512) as small PNGs, without image
// libraries: a dark square with three offset frames (an animation's film strip). Run: node scripts/make-icons.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) raw.set(pixel(x / size, y / size), y * (size * 3 + 1) + 1 + x * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
/** Three rounded frames, offset like a film strip, in the app's accent colours; `pad` shrinks them (maskable safe zone). */
const art = (pad) => (u, v) => {
  const frames = [[0.18, 0.2, [90, 110, 255]], [0.3, 0.32, [150, 90, 255]], [0.42, 0.44, [255, 110, 170]]];
  let c = [17, 19, 28];
  for (const [x0, y0, col] of frames) {
    const x = pad + (1 - 2 * pad) * x0, y = pad + (1 - 2 * pad) * y0, w = (1 - 2 * pad) * 0.4;
    if (u >= x && u <= x + w && v >= y && v <= y + w) c = col;
  }
  return c;
};
mkdirSync('public/icons', { recursive: true });
writeFileSync('public/icons/icon-192.png', png(192, art(0)));
writeFileSync('public/icons/icon-512.png', png(512, art(0)));
writeFileSync('public/icons/icon-maskable-512.png', png(512, art(0.1)));
console.log('wrote public/icons/icon-192.png, icon-512.png, icon-maskable-512.png');
