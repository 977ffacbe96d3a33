"""Writing output files so that a reader never sees half of one.

Every table, record and report of :mod:`analysis` is written to a temporary file beside its
target and renamed into place; a crash leaves the old file or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (text is encoded as UTF-8) to ``path`` atomically and return the path.

    The parent folder is created when missing. The temporary file is named ``.<name>.*.tmp``
    and is removed again when writing fails.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    prefix = f".{target.name}."
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(payload)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def write_json_atomic(path: str | Path, data: dict[str, Any] | list[Any]) -> Path:
    """Write ``data`` as indented JSON with a final newline, atomically; return the path."""
    return write_atomic(path, json.dumps(data, indent=2) + "\n")
