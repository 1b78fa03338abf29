import { useEffect, useState } from 'react';

/** Placeholder shell: reports whether this browser has a WebGPU adapter. The real UI replaces it. */
export function App() {
  const [status, setStatus] = useState('Checking WebGPU…');
  useEffect(() => {
    (async () => {
      const adapter = await navigator.gpu?.requestAdapter();
      setStatus(adapter ? `WebGPU ready (${adapter.info.vendor || 'unknown vendor'} ${adapter.info.architecture})` : 'WebGPU is not available in this browser.');
    })();
  }, []);
  return (<main><h1>AnimateDiff Web</h1><p role="status">{status}</p></main>);
}
