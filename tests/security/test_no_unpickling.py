"""fijibridge unpickles nothing itself: no ``pickle.load(s)`` (or ``torch.load`` without
``weights_only=True``) anywhere in the package.  Executors hand task objects to Dask /
``concurrent.futures``, which serialize their own tasks between this run's processes."""

from __future__ import annotations

import ast
from pathlib import Path

import fijibridge

PACKAGE = Path(fijibridge.__file__).parent
UNPICKLERS = {("pickle", "load"), ("pickle", "loads"), ("cloudpickle", "load"),
              ("cloudpickle", "loads"), ("dill", "load"), ("dill", "loads"),
              ("joblib", "load"), ("pickle", "Unpickler")}


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name):
            yield node, (node.func.value.id, node.func.attr)


def _offences(source: str, name: str) -> list[str]:
    tree = ast.parse(source, filename=name)
    found = []
    for node, (mod, attr) in _calls(tree):
        if (mod, attr) in UNPICKLERS:
            found.append(f"{name}:{node.lineno}: {mod}.{attr}")
        elif (mod, attr) == ("torch", "load"):
            weights_only = [k for k in node.keywords if k.arg == "weights_only"]
            if not weights_only or not (isinstance(weights_only[0].value, ast.Constant)
                                        and weights_only[0].value.value is True):
                found.append(f"{name}:{node.lineno}: torch.load without weights_only=True")
    for node in ast.walk(tree):  # from pickle import loads
        if isinstance(node, ast.ImportFrom) and node.module in {"pickle", "cloudpickle", "dill"}:
            bad = [a.name for a in node.names if a.name in {"load", "loads", "Unpickler"}]
            if bad:
                found.append(f"{name}:{node.lineno}: from {node.module} import {', '.join(bad)}")
    return found


def test_scanner_finds_what_it_forbids():
    src = ("import pickle, torch\nfrom pickle import loads\npickle.loads(b'')\n"
           "torch.load('m.pt')\ntorch.load('m.pt', weights_only=False)\n"
           "torch.load('m.pt', weights_only=True)\n")
    found = _offences(src, "x.py")
    assert found == ["x.py:3: pickle.loads", "x.py:4: torch.load without weights_only=True",
                     "x.py:5: torch.load without weights_only=True",
                     "x.py:2: from pickle import loads"]


def test_package_unpickles_nothing():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50  # the whole package, not an empty folder
    found = [o for f in files
             for o in _offences(f.read_text(encoding="utf-8"), str(f.relative_to(PACKAGE)))]
    assert found == []
