"""Atomic writes: fsync only when asked to be durable; never a half-written target."""

from __future__ import annotations

import os

import pytest

from fijibridge._core import atomic


@pytest.mark.parametrize("durable", [True, False])
def test_atomic_write_fsyncs_only_when_durable(tmp_path, monkeypatch, durable):
    calls = []
    real = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    path = atomic.atomic_write_text(tmp_path / "a.json", '{"x": 1}', durable=durable)
    assert path.read_text() == '{"x": 1}'
    assert len(calls) == (1 if durable else 0)
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left


def test_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]
