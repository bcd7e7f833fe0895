// SPDX-License-Identifier: Apache-2.0
// @ts-check
// Reads the engine's result zones (RGBA8 images the render stage writes into
// the engine's memory; include/triptych/render/scene.hpp, ResultZoneHeader)
// in place, for the UI. The bytes are shared with the render thread, so
// they are hostile: each header is read once into locals and checked before
// any pixel is touched. No Node, no DOM: the utility process (variant A),
// the page (variant B) and the tests share it. Any thread that holds the
// memory.

const MAGIC = 0x53455254;    // 'TRES', little-endian
const VERSION = 1;
const FORMAT_RGBA8 = 1;
const HEADER_BYTES = 40;     // eight u32 fields, then the u64 frame

// The checked geometry of the result zone `zone` ({offset, size}) of
// `memory` (an ArrayBuffer or SharedArrayBuffer): {width, height, rowBytes,
// pixelOffset, frame}, or {error} saying what is wrong.
export function readResultZone(memory, zone) {
  if (!(zone?.offset >= 0) || !(zone?.size >= HEADER_BYTES) || zone.offset + zone.size > memory.byteLength) {
    return { error: 'the zone lies outside the memory' };
  }
  const view = new DataView(memory, zone.offset, HEADER_BYTES);
  const magic = view.getUint32(0, true);
  const version = view.getUint32(4, true);
  const width = view.getUint32(8, true);
  const height = view.getUint32(12, true);
  const rowBytes = view.getUint32(16, true);
  const format = view.getUint32(20, true);
  const pixelOffset = view.getUint32(24, true);
  const frame = view.getBigUint64(32, true);
  if (magic !== MAGIC) return { error: `bad magic 0x${magic.toString(16)}` };
  if (version !== VERSION) return { error: `result zone version ${version}, expected ${VERSION}` };
  if (format !== FORMAT_RGBA8) return { error: `pixel format ${format}, expected RGBA8 (${FORMAT_RGBA8})` };
  if (width === 0 || height === 0 || rowBytes < width * 4) return { error: `bad geometry ${width}x${height}, ${rowBytes} bytes a row` };
  if (pixelOffset < HEADER_BYTES || pixelOffset + rowBytes * height > zone.size) {
    return { error: `the pixels (${pixelOffset} + ${rowBytes} x ${height}) run past the zone's ${zone.size} bytes` };
  }
  return { width, height, rowBytes, pixelOffset, frame };
}

// The newest published image among the engine's result zones (`zones`:
// the zone map's entries whose name starts with 'result'): {name, width,
// height, rowBytes, frame, pixels} with `pixels` a Uint8Array over the
// shared memory itself (no copy), or null when none holds a frame yet.
export function newestResult(memory, zones) {
  let best = null;
  for (const [name, zone] of Object.entries(zones)) {
    if (!name.startsWith('result')) continue;
    const z = readResultZone(memory, zone);
    if (z.error !== undefined || z.frame === 0n) continue;
    if (best === null || z.frame > best.frame) best = { name, zone, ...z };
  }
  if (best === null) return null;
  const pixels = new Uint8Array(memory, best.zone.offset + best.pixelOffset, best.rowBytes * best.height);
  return { name: best.name, width: best.width, height: best.height, rowBytes: best.rowBytes, frame: best.frame, pixels };
}

// A copy of `result` shrunk by whole steps to at most `maxWidth` pixels
// wide (nearest pixel): variant A's low-rate thumbnail, small enough to
// post across processes. {width, height, pixels: Uint8ClampedArray}.
export function thumbnail(result, maxWidth) {
  const step = Math.max(1, Math.ceil(result.width / maxWidth));
  const width = Math.floor(result.width / step);
  const height = Math.floor(result.height / step);
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = y * step * result.rowBytes + x * step * 4;
      pixels.set(result.pixels.subarray(from, from + 4), (y * width + x) * 4);
    }
  }
  return { width, height, pixels };
}
