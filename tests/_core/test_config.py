"""Config-file reading and validation messages shared by the trainers."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from fijibridge._core.config import explain_validation_error, read_config_file


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depth: int = 2
    features: int = 8


class _Top(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    model: _Inner = _Inner()
    items: list[_Inner] = []


SECTIONS = {"": _Top, "model": _Inner, "items": _Inner}


def _message(data):
    with pytest.raises(ValidationError) as info:
        _Top(**data)
    return explain_validation_error(info.value, SECTIONS, title="invalid thing")


def test_unknown_missing_and_bad_values_are_named():
    msg = _message({"name": "x", "model": {"featurs": 4}})
    assert msg.startswith("invalid thing: unknown key 'featurs' in section 'model'")
    assert "allowed: depth, features." in msg and "Did you mean 'features'?" in msg
    assert "missing key 'name'" in _message({})
    assert "unknown key 'deep' in section 'items'" in _message({"name": "x", "items": [{"deep": 1}]})
    msg = _message({"name": "x", "model": {"depth": "deep"}})
    assert "model.depth:" in msg and "'deep'" in msg
    assert "unknown key 'nmae' in the top level" in _message({"name": "x", "nmae": 1})


def test_read_config_file(tmp_path):
    (tmp_path / "a.yml").write_text("model:\n  depth: 3\n")
    assert read_config_file(tmp_path / "a.yml") == {"model": {"depth": 3}}
    (tmp_path / "b.json").write_text('{"name": "x"}')
    assert read_config_file(tmp_path / "b.json") == {"name": "x"}
    (tmp_path / "empty.yml").write_text("")
    assert read_config_file(tmp_path / "empty.yml") == {}
    (tmp_path / "bad.yml").write_text("a: [1,\n")
    with pytest.raises(ValueError, match=r"bad.yml(:\d+)?: not valid YAML"):
        read_config_file(tmp_path / "bad.yml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        read_config_file(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="no training config"):
        read_config_file(tmp_path / "none.yml")


def test_as_config_accepts_path_mapping_or_instance(tmp_path):
    from fijibridge._core.config import as_config

    def parse(d):
        return _Top(**d)

    def load(p):
        return parse(read_config_file(p))

    (tmp_path / "c.yml").write_text("name: a\n")
    assert as_config(tmp_path / "c.yml", _Top, load=load, parse=parse).name == "a"
    assert as_config(str(tmp_path / "c.yml"), _Top, load=load, parse=parse).name == "a"
    assert as_config({"name": "b"}, _Top, load=load, parse=parse).name == "b"
    top = _Top(name="c")
    assert as_config(top, _Top, load=load, parse=parse) is top
    with pytest.raises(TypeError, match="config must be a _Top, dict or path; got int"):
        as_config(3, _Top, load=load, parse=parse)
