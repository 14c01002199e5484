"""Which stored files belong to an edit, and removing them: shared by deleting an edit, deleting an
account and the retention sweep, so that none of them leaves a preview or an older attempt's result behind."""

from __future__ import annotations

import logging

from app.editor.keys import result_key
from app.editor.previews import preview_key
from app.models import Edit
from app.storage import Storage

log = logging.getLogger(__name__)


def stored_keys(edit: Edit) -> list[str]:
    """Every key an edit may have written: its inputs, the result of each attempt (a retried attempt may
    have stored one before it failed) and the preview of each."""
    originals = [item.storage_key for item in edit.inputs]
    originals += [result_key(edit.user_id, edit.id, attempt, edit.output_format)
                  for attempt in range(0, max(edit.attempts, 1) + 1)]
    if edit.result_key and edit.result_key not in originals:
        originals.append(edit.result_key)
    return originals + [preview_key(key) for key in originals]


def remove(storage: Storage, keys: list[str]) -> None:
    """Delete `keys` (missing ones are fine). Each failure is logged and the rest still go; the caller has
    already recorded that the files are gone, so a key left over is only a stray file, never a broken page."""
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            log.exception("could not delete stored file %s", key)
