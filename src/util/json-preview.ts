// A short, bounded description of a parsed JSON value for error messages. JSON.stringify recurses once per
// nesting level and copies the whole value, so a hostile header ({"t": [[[… 20,000 levels …]]]}) makes it throw
// RangeError (call stack) or build a huge string; this walks at most `maxDepth` levels and stops at `maxChars`.

export function previewJson(value: unknown, maxChars = 80, maxDepth = 6): string {
  let out = '';
  const full = () => out.length >= maxChars;
  const visit = (v: unknown, depth: number): void => {
    if (full()) return;
    if (v === null || typeof v === 'number' || typeof v === 'boolean') { out += String(v); return; }
    if (typeof v === 'string') { out += JSON.stringify(v.length > maxChars ? `${v.slice(0, maxChars)}…` : v); return; }
    if (typeof v !== 'object') { out += typeof v; return; }
    const isArray = Array.isArray(v);
    if (depth >= maxDepth) { out += isArray ? '[…]' : '{…}'; return; }
    out += isArray ? '[' : '{';
    const keys = isArray ? null : Object.keys(v as object);
    const n = keys ? keys.length : (v as unknown[]).length;
    for (let i = 0; i < n && !full(); i++) {
      if (i > 0) out += ',';
      if (keys) out += `${JSON.stringify(previewName(keys[i], maxChars))}:`;
      visit(keys ? (v as Record<string, unknown>)[keys[i]] : (v as unknown[])[i], depth + 1);
    }
    out += isArray ? ']' : '}';
  };
  visit(value, 0);
  return out.length > maxChars ? `${out.slice(0, maxChars)}…` : out;
}

/** A name from a file (a tensor name, a metadata key) shortened for a message. */
export function previewName(name: string, maxChars = 120): string {
  return name.length > maxChars ? `${name.slice(0, maxChars)}…` : name;
}
