// Page-wide keys: Escape cancels from anywhere (Ctrl+Enter is the settings form's own).

import { useEffect, useRef } from 'react';

export function useKeys({ onEscape }: { onEscape(): void }) {
  const ref = useRef(onEscape);
  ref.current = onEscape;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') ref.current();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}
