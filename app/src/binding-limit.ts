// `?maxBinding=<bytes>` lowers the GPU's storage-binding limit for this page (the engine and the memory planner
// alike): a smaller GPU, simulated, so the planner's refusals and suggestions can be tried (the e2e tests) on any
// machine. Only lowers: the adapter's own limit still caps it.

export function bindingLimitOverride(search: string = typeof location === 'undefined' ? '' : location.search): number | undefined {
  const v = new URLSearchParams(search).get('maxBinding');
  if (!v || !/^\d{1,15}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 65536 ? n : undefined;
}
