// While an export on the account page is being prepared, ask for its status now and then and reload the
// page once it is ready (or failed), so its download link appears without a manual refresh.
import { api } from './api.js';

const pending = [...document.querySelectorAll('[data-export-pending]')].map((row) => row.dataset.exportPending);

async function poll(delay) {
  if (!pending.length || document.hidden) { setTimeout(() => poll(delay), delay); return; }
  try {
    for (const id of pending) {
      const exported = await api(`/api/v1/me/exports/${id}`);
      if (exported.status !== 'pending') {
        history.replaceState(null, '', '/account#your-data');
        window.location.reload();
        return;
      }
    }
  } catch { /* a network hiccup: try again later */ }
  setTimeout(() => poll(Math.min(delay * 1.5, 15000)), delay);
}

if (pending.length) setTimeout(() => poll(1000), 1000);
