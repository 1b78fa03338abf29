// File names for exports: a slug of the prompt (ASCII, lower case, at most `maxLength` characters,
// cut at a word boundary where possible) followed by the seed, e.g. "a-cat-walking-on-the-beach-seed42.gif".

/** Lower-case ASCII words joined by '-', accents folded ("Café" → "cafe"), at most `maxLength` characters. */
export function slugify(text: string, maxLength = 48): string {
  const words = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean);
  let slug = '';
  for (const w of words) {
    const next = slug ? `${slug}-${w}` : w;
    if (next.length > maxLength) {
      if (!slug) slug = w.slice(0, maxLength); // one very long word: cut it
      break;
    }
    slug = next;
  }
  return slug;
}

/** `<prompt-slug>-seed<seed>[-<suffix>].<ext>`; "animation" when the prompt has no usable characters. */
export function exportFileName(prompt: string, seed: number, ext: string, suffix?: string): string {
  const base = slugify(prompt) || 'animation';
  return `${base}-seed${seed >>> 0}${suffix ? `-${suffix}` : ''}.${ext}`;
}
