"""Engine selection and its errors, without starting Java.

Fiji cannot be downloaded here: the Fiji cases use a stand-in folder with Fiji's layout
(``jars/``, ``plugins/``) and only check the *selection*, never a start.
"""

from pathlib import Path

import pytest

from fijibridge import EngineNotFoundError, JavaNotFoundError
from fijibridge.bridge import find_plugin_jars, resolve_engine
from fijibridge.bridge import _java
from fijibridge.bridge.macro import macro_parameters, prepare_macro


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("FIJI_HOME", "IMAGEJ_JAR", "IMAGEJ_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def _fake_fiji(tmp_path) -> Path:
    app = tmp_path / "Fiji.app"
    (app / "jars").mkdir(parents=True)
    (app / "plugins").mkdir()
    return app


def test_fiji_home_wins_over_imagej_jar_standin_fiji_folder(clean_env, tmp_path):
    app = _fake_fiji(tmp_path)
    clean_env.setenv("FIJI_HOME", str(app))
    spec = resolve_engine("auto")
    assert spec.kind == "fiji" and spec.fiji_dir == app and spec.plugins_dir == app / "plugins"


def test_explicit_imagej_beats_fiji_home_standin_fiji_folder(clean_env, tmp_path):
    clean_env.setenv("FIJI_HOME", str(_fake_fiji(tmp_path)))
    if not Path("/usr/share/java/ij.jar").is_file():
        pytest.skip("Debian's imagej package is not installed")
    assert resolve_engine("imagej").kind == "imagej"


def test_not_a_fiji_folder(clean_env, tmp_path):
    with pytest.raises(EngineNotFoundError, match="not a Fiji installation.*jars/ and plugins/"):
        resolve_engine("fiji", fiji_dir=tmp_path)
    with pytest.raises(EngineNotFoundError, match="FIJI_HOME"):
        resolve_engine("fiji")


def test_imagej_jar_env_and_bad_path(clean_env, tmp_path):
    jar = tmp_path / "ij.jar"
    jar.write_bytes(b"PK")
    clean_env.setenv("IMAGEJ_JAR", str(tmp_path))
    spec = resolve_engine("imagej")
    assert spec.ij_jar == jar
    with pytest.raises(EngineNotFoundError, match="no ImageJ jar at"):
        resolve_engine("imagej", imagej_jar=tmp_path / "missing.jar")


def test_nothing_found_lists_what_was_searched(clean_env, monkeypatch):
    from fijibridge.bridge import _engines

    monkeypatch.setattr(_engines, "_SYSTEM_JARS", ("/nonexistent/ij.jar",))
    with pytest.raises(EngineNotFoundError, match="searched: /nonexistent/ij.jar.*apt-get install imagej"):
        resolve_engine("auto")


def test_unknown_engine_suggests():
    with pytest.raises(ValueError, match="Did you mean 'imagej'"):
        resolve_engine("imagje")


def test_no_java_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_java, "_JVM_DIRS", (str(tmp_path / "jvm"),))
    with pytest.raises(JavaNotFoundError, match="no Java runtime found.*JAVA_HOME.*openjdk-17"):
        _java.find_java_home()


def test_system_java_is_found():
    home = _java.find_java_home()
    assert (home / "bin" / "java").is_file()


def test_plugin_detection_standin_jars(tmp_path):
    """Stand-in files named like the real plugin jars (the jars are not redistributable)."""
    assert find_plugin_jars(tmp_path) == {"DeconvolutionLab2": None, "PSF Generator": None}
    (tmp_path / "DeconvolutionLab_2.jar").write_bytes(b"PK")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "PSF_Generator.jar").write_bytes(b"PK")
    found = find_plugin_jars(tmp_path)
    assert found["DeconvolutionLab2"].name == "DeconvolutionLab_2.jar"
    assert found["PSF Generator"].name == "PSF_Generator.jar"


def test_parameter_parsing_without_java():
    text = ('#@ Float (label="Radius (px)", value=50) rolling\n'
            '#@ String (choices={"A B", "C"}, value="C") pick\n#@output Integer count\n'
            'print(rolling);\n')
    params = macro_parameters(text)
    assert [(p.name, p.kind, p.default) for p in params] == [
        ("rolling", "number", "50"), ("pick", "string", "C"), ("count", "integer", None)]
    assert params[1].choices == ("A B", "C") and params[2].output
    code, argument, _ = prepare_macro(text, {"pick": "A B"})
    assert code.count("\n") == text.count("\n")  # every line stays where it was
    assert "A B" not in code  # values never enter the macro text
    assert argument == "pick=[A B] rolling=50.0"
    with pytest.raises(ValueError, match="one of"):
        prepare_macro(text, {"pick": "D"})
    with pytest.raises(ValueError, match=r"cannot contain '\]'"):
        prepare_macro('#@ String s\n', {"s": "x]"})
    with pytest.raises(ValueError, match="<macro>:1: cannot parse"):
        macro_parameters("#@ 42\n")
