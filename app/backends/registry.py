"""Backend name -> backend, imported only when chosen (fsspec-style registry).

`EDIT_BACKEND` is a name from the table below or a `package.module:ClassName` of a third-party backend
whose constructor takes the Settings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from app.errors import ConfigurationError

if TYPE_CHECKING:
    from app.backends.base import EditBackend
    from app.config import Settings

KNOWN_BACKENDS: dict[str, tuple[str, str]] = {
    # name: (import path, what to install when it is missing)
    "local": (
        "app.backends.local.engine:LocalBackend",
        "install the offline engine's extra: pip install 'imagedit[local]' (make install does)",
    ),
    "openai": ("app.backends.openai:OpenAIBackend", "set OPENAI_API_KEY; httpx ships with the app"),
}


def create_backend(settings: Settings) -> EditBackend:
    """Instantiate the backend that `settings.edit_backend` names, with a clear error when it cannot."""
    name = settings.edit_backend
    target, hint = KNOWN_BACKENDS.get(name, (name, "install the package that provides it"))
    if ":" not in target:
        known = ", ".join(sorted(KNOWN_BACKENDS))
        raise ConfigurationError(f"EDIT_BACKEND={name!r} is not a known backend ({known}) nor a 'module:Class' path")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"EDIT_BACKEND={name!r} cannot be imported ({exc}); {hint}") from exc
    backend_class = getattr(module, class_name, None)
    if backend_class is None:
        raise ConfigurationError(f"EDIT_BACKEND={name!r}: {module_name} has no {class_name}")
    backend: EditBackend = backend_class(settings)
    return backend
