"""Names of things that must be derived the same way everywhere: storage keys and ledger transfer ids."""

from __future__ import annotations


def input_key(user_id: str, edit_id: str, position: int, extension: str) -> str:
    return f"u/{user_id}/e/{edit_id}/input-{position}.{extension}"


def result_key(user_id: str, edit_id: str, attempt: int, output_format: str) -> str:
    extension = {"jpeg": "jpg"}.get(output_format, output_format)
    return f"u/{user_id}/e/{edit_id}/result-{attempt}.{extension}"


def reservation_id(edit_id: str) -> str:
    """The pending transfer that holds an edit's credits; its post or void derives from it."""
    return f"edit:{edit_id}:reserve"
