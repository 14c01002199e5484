// The edit page: reloads itself when a queued or running edit finishes; shows a before/after slider for
// a finished one; asks before deleting (confirm.js).
import { api } from './api.js';
import { mountCompare } from './compare.js';
import './confirm.js';

const status = document.getElementById('edit-status');
if (status && (status.dataset.status === 'queued' || status.dataset.status === 'running')) {
  const poll = async () => {
    try {
      const edit = await api(`/api/v1/edits/${status.dataset.editId}`);
      if (edit.status !== status.dataset.status) { window.location.reload(); return; }
    } catch (err) { console.warn(err); }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
}

const stage = document.getElementById('detail-stage');
if (stage) {
  const { before, after, width, height, sourceWidth, sourceHeight } = stage.dataset;
  const source = sourceWidth ? { width: Number(sourceWidth), height: Number(sourceHeight) } : null;
  const frame = JSON.parse(stage.dataset.frame || 'null');
  mountCompare(stage, { before, after, width: Number(width), height: Number(height), frame, source });
}
