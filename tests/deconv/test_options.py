"""DL2 command text: parser, builder, macro pieces, against the manifest's exact texts."""

from __future__ import annotations

import pytest

from fijibridge.deconv import DeconvOptions, Padding, parse_dl2, to_dl2
from fijibridge.deconv.dl2 import DL2_MACRO, dl2_macro, dl2_run_options


def test_every_manifest_text_round_trips(manifest):
    for case in manifest["dl2"]:
        opts = parse_dl2(case["command"])
        assert to_dl2(opts) == case["command"], case["name"]


def test_builder_reproduces_manifest_texts_from_options(manifest):
    built = {
        "A_RL20": DeconvOptions("RL", (20,), image="dl2/input/A_image.tif", psf="dl2/input/A_psf.tif"),
        "A_TM20": DeconvOptions("TM", (20, 1, 0.001), image="dl2/input/A_image.tif",
                                psf="dl2/input/A_psf.tif"),
        "A_RL20_padX2_apoTUKEY": DeconvOptions("RL", (20,), image="dl2/input/A_image.tif",
                                               psf="dl2/input/A_psf.tif", pad="X2 X2",
                                               apo=("TUKEY", "TUKEY")),
        "A_RIF_norm_no": DeconvOptions("RIF", (0.1,), image="dl2/input/A_image.tif",
                                       psf="dl2/input/A_psf.tif", norm=0),
        "A_LW20_constraint_no": DeconvOptions("LW", (20, 1), image="dl2/input/A_image.tif",
                                              psf="dl2/input/A_psf.tif", constraint="no"),
        "B_FISTA20": DeconvOptions("FISTA", (20, 1, 0.01, 3), image="dl2/input/B_image.tif",
                                   psf="dl2/input/B_psf.tif"),
    }
    texts = {c["name"]: c["command"] for c in manifest["dl2"]}
    for name, opts in built.items():
        assert to_dl2(opts) == texts[name]


def test_macro_pieces_for_the_real_plugin(manifest, tmp_path):
    text = next(c["command"] for c in manifest["dl2"] if c["name"] == "A_RL20_padE2")
    code, args = dl2_macro(text, out_name="A_RL20_padE2", out_dir=tmp_path)
    assert code == DL2_MACRO
    assert 'run("DeconvolutionLab2 Run", dl2_options);' in code and "#@ String dl2_options" in code
    opt = args["dl2_options"]
    assert opt.startswith(text + " ")
    assert f"-out stack A_RL20_padE2 noshow -path {tmp_path}" in opt
    assert opt.endswith("-monitor console -multithreading no")
    # an -out given by the user is replaced (noshow on every -out)
    again = dl2_run_options(text + " -out mip preview -monitor table")
    assert "mip" not in again and again.count("-out") == 1 and "noshow" in again


def test_parameters_defaults_and_dl2_conversions():
    o = parse_dl2("-algorithm TM 20")
    assert o.resolved == {"num_iter": 20, "step": 1.0, "reg": pytest.approx(0.1)}
    assert parse_dl2("-algorithm fista 5 Haar").resolved["scales"] == 3
    assert parse_dl2("-algorithm LW+ 5").algorithm == "NNLS"
    assert parse_dl2("-algorithm NNLS 5 -constraint no").effective_constraint == "nonnegativity"
    assert parse_dl2("-algorithm RL 5 -constraint nonnegativity").effective_constraint == "nonnegativity"
    assert parse_dl2("-algorithm RL 5 -norm no").norm == 0
    assert parse_dl2("-algorithm RL 5 -residu 0.01 -epsilon 1e-5").residu == 0.01


def test_pad_digits_count_as_extension_as_in_dl2():
    pad = parse_dl2("-algorithm RL 1 -pad E2 E2").pad
    assert pad == Padding("E2", "E2", 2, 2)
    assert pad.padded_shape((32, 64, 64)) == (64, 128, 128)
    assert Padding("X2", "NO").padded_shape((27, 51, 60)) == (27, 52, 60)
    assert Padding("NO", "NO", 4, 2).to_dl2() == "NO NO 4 2"
    with pytest.raises(ValueError, match="cannot express"):
        Padding("E2", "E2", 0, 0).to_dl2()


@pytest.mark.parametrize("text, message", [
    ("-algorithm RLX 10", "Did you mean RL"),
    ("-algorithm RL abc", "parameter 'num_iter' must be a number; got 'abc'"),
    ("-algorithm RL 10 20", "at most 1 parameter"),
    ("-algorithm TM 10 1 0.1 7", "at most 3 parameter"),
    ("-algorithm RL 2.5", "integer"),
    ("-algorithm RL 10 -pad E3 E3", "unknown padding"),
    ("-algorithm RL 10 -apo HANNING", "Did you mean 'HANN'"),
    ("-algorithm RL 10 -constraint positive", "constraint must be one of"),
    ("-algorithm RL 10 -psff file a.tif", "unknown DL2 option '-psff'"),
    ("-image file a.tif", "no -algorithm"),
    ("-image platform a -algorithm RL 3", "not available natively"),
    ("RL 10", "must start with a keyword"),
])
def test_bad_dl2_text(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_dl2(text)
