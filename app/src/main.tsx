import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ErrorBoundary } from './components/ErrorBoundary';
import './styles.css';

createRoot(document.getElementById('root')!).render(<StrictMode><ErrorBoundary name="The app"><App /></ErrorBoundary></StrictMode>);

// The service worker (vite-plugin-pwa / Workbox) makes the app installable and usable offline; production builds only.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  void navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => console.warn('service worker not registered:', e));
}
