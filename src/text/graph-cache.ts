// The CLIP text encoder's ONNX graph kept between loads (issue 8: "the second start is fast"): the graph is built
// from the checkpoint's weights (src/text/clip-encoder.ts), which reads, converts and transposes every weight and
// serialises them into one protobuf; the next load with the same inputs reads the built bytes back instead.
//
// Entry layout: the graph's bytes, zero-padded to whole u32 words, then 12 bytes (little-endian u32): the graph's
// length, checksum32 of the padded bytes, and the magic 'ADWT'. An entry that fails these checks is removed and the
// graph is built (and stored) again: a corrupt entry is never visible to the user.

import { checksum32, type DerivedContext } from '../weights/derived';

/** Bump when buildClipTextGraph makes other bytes from the same weights and options. */
export const TEXT_GRAPH_VERSION = 1;
export const TEXT_GRAPH_TAG = 'onnx-text-encoder';
const MAGIC = 0x54574441; // 'ADWT'

/** The entry's key: the inputs, their parameters, the graph options that change the graph, the builder version. */
const keyOf = (ctx: DerivedContext, graphOptions: object) => [...ctx.inputs, ...ctx.params, JSON.stringify(graphOptions), `graph-v${TEXT_GRAPH_VERSION}`];

/** The stored graph's bytes, or null (absent, or failed its checks: then it is removed). */
export async function readTextGraph(ctx: DerivedContext, graphOptions: object): Promise<Uint8Array | null> {
  const from = keyOf(ctx, graphOptions);
  const blob = await ctx.store.getDerived(TEXT_GRAPH_TAG, from).catch(() => null);
  if (!blob) return null;
  try {
    const all = new Uint8Array(await blob.arrayBuffer());
    if (all.byteLength >= 12 && all.byteLength % 4 === 0) {
      const tail = new DataView(all.buffer, all.byteLength - 12, 12);
      const len = tail.getUint32(0, true), padded = all.byteLength - 12;
      if (tail.getUint32(8, true) === MAGIC && len <= padded && padded - len < 4 && checksum32(all.subarray(0, padded)) === tail.getUint32(4, true)) {
        return all.subarray(0, len);
      }
    }
  } catch {
    // unreadable: rebuilt below
  }
  await ctx.store.removeDerived(TEXT_GRAPH_TAG, from).catch(() => undefined);
  return null;
}

/** Stores a built graph (a failure to store is not the load's failure: the graph is simply built next time). */
export async function storeTextGraph(ctx: DerivedContext, graphOptions: object, bytes: Uint8Array): Promise<void> {
  // The graph is written as it is (no padded copy of a graph of hundreds of MB): its whole words, then the last
  // partial word padded with zeros.
  const whole = bytes.byteLength & ~3;
  const last = new Uint8Array(bytes.byteLength === whole ? 0 : 4);
  last.set(bytes.subarray(whole));
  const tail = new DataView(new ArrayBuffer(12));
  tail.setUint32(0, bytes.byteLength, true);
  tail.setUint32(4, checksum32(last, checksum32(bytes.subarray(0, whole))), true);
  tail.setUint32(8, MAGIC, true);
  try {
    const w = await ctx.store.writeDerived(TEXT_GRAPH_TAG, keyOf(ctx, graphOptions), { label: 'text encoder (ONNX graph)', inputs: ctx.inputs });
    try {
      for (const part of [bytes.subarray(0, whole), last, new Uint8Array(tail.buffer)]) await w.write(part);
    } catch (e) {
      await w.abort();
      throw e;
    }
    await w.commit();
  } catch {
    // a full or unavailable store: the next load builds the graph again
  }
}
