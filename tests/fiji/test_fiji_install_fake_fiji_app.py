"""``fijibridge fiji install`` into fake Fiji.app / ImageJ folders made in tmp.

The folders are fakes (empty jars/ and plugins/, no Fiji); the copying, the manifest,
the backups and the messages are the real ones.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from fijibridge.cli.main import main
from fijibridge.fiji_install import MANIFEST_NAME, install

from fiji_standins import REPO

PY_SCRIPTS = sorted(p.name for p in (REPO / "fiji" / "python").glob("*.py"))
JY_SCRIPTS = sorted(p.name for p in (REPO / "fiji" / "jython").glob("*.py"))
MACROS = sorted(p.name for p in (REPO / "macros").glob("*.ijm"))


@pytest.fixture
def fake_fiji_app(tmp_path):
    app = tmp_path / "Fiji.app"
    (app / "jars").mkdir(parents=True)
    (app / "plugins").mkdir()
    return app


def test_install_into_fake_fiji_app_then_unchanged(fake_fiji_app, capsys):
    assert PY_SCRIPTS and JY_SCRIPTS and MACROS
    assert main(["fiji", "install", "--fiji-dir", str(fake_fiji_app)]) == 0
    out = capsys.readouterr().out.splitlines()
    scripts = fake_fiji_app / "scripts" / "Plugins" / "fijibridge"
    for name in PY_SCRIPTS:
        assert (scripts / name).read_bytes() == (REPO / "fiji" / "python" / name).read_bytes()
        assert f"copied    scripts/Plugins/fijibridge/{name}" in out
    for name in JY_SCRIPTS:
        assert (scripts / "Classic_Jython" / name).is_file()
    for name in MACROS:
        assert (fake_fiji_app / "macros" / "fijibridge" / name).is_file()
        assert f"copied    macros/fijibridge/{name}" in out
    n = len(PY_SCRIPTS) + len(JY_SCRIPTS) + len(MACROS)
    assert len([l for l in out if l.startswith("copied")]) == n
    assert out[-1].startswith("Fiji at ") and f"{n} copied" in out[-1]
    assert oct((scripts / PY_SCRIPTS[0]).stat().st_mode & 0o777) == "0o644"
    manifest = json.loads((scripts / MANIFEST_NAME).read_text())["files"]
    assert len(manifest) == n
    assert main(["fiji", "install", "--fiji-dir", str(fake_fiji_app)]) == 0
    again = capsys.readouterr().out.splitlines()
    assert len([l for l in again if l.startswith("unchanged")]) == n


def test_modified_file_is_backed_up_and_said_so(fake_fiji_app, capsys):
    install(fake_fiji_app)
    target = fake_fiji_app / "scripts" / "Plugins" / "fijibridge" / PY_SCRIPTS[0]
    target.write_text("# my edits\n")
    assert main(["fiji", "install", "--fiji-dir", str(fake_fiji_app)]) == 0
    out = capsys.readouterr().out
    backup = target.with_name(target.name + ".bak")
    assert backup.read_text() == "# my edits\n"
    assert target.read_bytes() == (REPO / "fiji" / "python" / PY_SCRIPTS[0]).read_bytes()
    assert f"it had been modified: your copy is kept as scripts/Plugins/fijibridge/{backup.name}" in out
    # a second edit gets a second backup; the first is never overwritten
    target.write_text("# more edits\n")
    install(fake_fiji_app)
    assert backup.read_text() == "# my edits\n"
    assert target.with_name(target.name + ".bak.2").read_text() == "# more edits\n"


def test_file_from_an_older_install_is_replaced_without_backup(fake_fiji_app):
    install(fake_fiji_app)
    scripts = fake_fiji_app / "scripts" / "Plugins" / "fijibridge"
    target = scripts / PY_SCRIPTS[0]
    old = "# fijibridge 0.0.9 version of this script\n"
    target.write_text(old)  # as an older fijibridge would have installed it ...
    manifest_path = scripts / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][f"scripts/Plugins/fijibridge/{PY_SCRIPTS[0]}"] = hashlib.sha256(old.encode()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))  # ... and recorded in its manifest
    _, actions, _ = install(fake_fiji_app)
    mine = [a for a in actions if a.target == target][0]
    assert mine.action == "replaced" and mine.backup is None
    assert not target.with_name(target.name + ".bak").exists()


def test_dry_run_writes_nothing(fake_fiji_app, capsys):
    assert main(["fiji", "install", "--fiji-dir", str(fake_fiji_app), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would be copied" in out and "dry run: nothing written" in out
    assert not (fake_fiji_app / "scripts").exists() and not (fake_fiji_app / "macros").exists()


def test_refuses_a_folder_that_is_not_fiji(tmp_path, capsys):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert main(["fiji", "install", "--fiji-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is not a Fiji or ImageJ installation: expected the folders jars/ and plugins/" in err
    assert "found notes.txt, stuff/" in err
    assert main(["fiji", "install", "--fiji-dir", str(tmp_path / "missing")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "stuff"]  # nothing written


def test_plain_imagej_folder_gets_jython_scripts_in_plugins(tmp_path, capsys):
    ij = tmp_path / "ImageJ"
    (ij / "plugins").mkdir(parents=True)
    (ij / "ij.jar").write_bytes(b"")
    assert main(["fiji", "install", "--fiji-dir", str(ij)]) == 0
    out = capsys.readouterr().out
    for name in JY_SCRIPTS:
        assert (ij / "plugins" / "fijibridge" / name).is_file()
    assert not (ij / "scripts").exists()
    assert "note: skipped" in out and "Python mode" in out and "ImageJ 1.x at" in out
    assert (ij / "macros" / "fijibridge" / MACROS[0]).is_file()
