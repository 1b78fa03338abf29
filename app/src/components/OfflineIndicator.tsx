// Online/offline badge: offline, it says which model presets are stored (the app itself comes from the service worker).

import { useEffect, useState } from 'react';

export function OfflineIndicator({ available }: { available: string[] }) {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const on = () => setOnline(true), off = () => setOnline(false);
    window.addEventListener('online', on);
    window.addEventListener('offline', off);
    return () => {
      window.removeEventListener('online', on);
      window.removeEventListener('offline', off);
    };
  }, []);
  if (online) return null;
  return (
    <p className="offline" role="status" data-testid="offline">
      Offline. {available.length ? `Stored and usable now: ${available.join(', ')}.` : 'No model is stored yet, so nothing can be generated until you are online.'}
    </p>
  );
}
