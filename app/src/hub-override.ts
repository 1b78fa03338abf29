// `?hub=http://127.0.0.1:PORT` points Hub repo sources at a local imitation of the Hub (the e2e tests). Only an
// origin on this machine is accepted, so a link can never redirect downloads to another site.

export function hubOverride(search: string = typeof location === 'undefined' ? '' : location.search): string | undefined {
  const v = new URLSearchParams(search).get('hub');
  if (!v) return undefined;
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(u.hostname) ? u.origin : undefined;
  } catch {
    return undefined;
  }
}
