"""The README's API examples, run as they stand against a live server: the ```sh blocks in bash (one
session, in order, `set -euo pipefail`), then the ```python block with the project's Python. Only the
variables the README tells a reader to set come from the test (BASE_URL, EMAIL, IMAGE), plus where the
database is, for the `apikeys create` command."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from app.models import ApiKey
from tests.conftest import FIXTURES, create_user, verify_ledger

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- api-examples:start -->", "<!-- api-examples:end -->"


def examples(language: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(START, 1)[1].split(END, 1)[0]
    return re.findall(rf"^```{language}\n(.*?)^```", section, re.S | re.M)


def test_readme_api_examples_run_as_written(live_server, context, settings, tmp_path):
    user = create_user(context, email="reader@example.com", credits=20)
    shell, python = examples("sh"), examples("python")
    assert len(shell) == 3 and len(python) == 1, "the test expects the setup, JSON API and OpenAI blocks"
    # The reader is in the project folder: `.venv/` is there, and so is their photo.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    shutil.copy(FIXTURES / "coffee.png", tmp_path / "photo.png")
    script = "set -euo pipefail\n" + "\n".join(shell) + f"\n.venv/bin/python - <<'PYTHON'\n{python[0]}PYTHON\n"
    env = {name: os.environ[name] for name in ("PATH", "LANG", "HOME", "TMPDIR") if name in os.environ}
    env.update(BASE_URL=live_server.url, EMAIL="reader@example.com", IMAGE="photo.png",
               DATABASE_URL=settings.resolved_database_url, DATA_DIR=str(settings.data_dir),
               SECRET_KEY=settings.resolved_secret_key)  # a shared database needs the operator's key

    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"

    estimate = json.loads(done.stdout.strip().splitlines()[0])
    assert (estimate["credits"], estimate["width"], estimate["height"]) == (4, 2048, 1360)
    for name, size in (("result.png", (2048, 1360)), ("wide.png", (1536, 1024)), ("edited.png", (1024, 1024))):
        image = Image.open(io.BytesIO((tmp_path / name).read_bytes()))
        assert (image.format, image.size) == ("PNG", size), name
    answer = json.loads((tmp_path / "answer.json").read_text())
    assert (answer["size"], answer["quality"], answer["output_format"]) == ("1536x1024", "low", "png")

    with context.transaction() as db:
        from app.billing import ledger

        keys = db.execute(select(ApiKey.name).where(ApiKey.user_id == user.id)).scalars().all()
        assert keys == ["README"]  # made by the CLI line of the README
        # 2K medium (the JSON API edit) + 2K low (1536x1024) + 1K medium (1024x1024), each once
        assert ledger.balance(db, user.id).available == 20 - 4 - 2 - 2
    verify_ledger(context)
