"""Atomic writes: the whole new file or the old one, never a temporary file left behind."""

from __future__ import annotations

import json

import pytest

from analysis.files import write_atomic, write_json_atomic


def test_write_atomic_creates_the_folder_and_encodes_text_as_utf8(tmp_path):
    target = write_atomic(tmp_path / "new" / "report.md", "latency – 2 s")
    assert target.read_bytes() == "latency – 2 s".encode()
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    target = write_atomic(tmp_path / "table.csv", b"old\n")
    with pytest.raises(TypeError):
        write_atomic(target, 42)
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_write_json_atomic_writes_indented_json_with_a_final_newline(tmp_path):
    target = write_json_atomic(tmp_path / "failures.json", [{"cell": "a/seed-1"}])
    text = target.read_text(encoding="utf-8")
    assert text.endswith("}\n]\n")
    assert json.loads(text) == [{"cell": "a/seed-1"}]
