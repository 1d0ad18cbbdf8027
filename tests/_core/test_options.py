import pytest

from fijibridge._core.options import check_choice, check_positive, check_spacing, did_you_mean


def test_choice_is_case_insensitive_and_suggests():
    assert check_choice("method", "otsu", ["Otsu", "Li"]) == "Otsu"
    with pytest.raises(ValueError, match=r"unknown method 'Otsuu'; allowed: Otsu, Li\. Did you mean 'Otsu'\?"):
        check_choice("method", "Otsuu", ["Otsu", "Li"])
    with pytest.raises(TypeError, match="must be a string"):
        check_choice("method", 3, ["Otsu"])
    assert did_you_mean("zzzz", ["Otsu", "Li"]) == ""


def test_spacing():
    assert check_spacing(None, 3) == (1.0, 1.0, 1.0)
    assert check_spacing(0.5, 2) == (0.5, 0.5)
    with pytest.raises(ValueError, match=r"3 values \(z, y, x\).*got 2"):
        check_spacing((1, 1), 3)
    with pytest.raises(ValueError, match="> 0"):
        check_spacing((1, -1), 2)
    with pytest.raises(TypeError):
        check_spacing("ab", 2)


def test_positive():
    assert check_positive("n", 3, integer=True) == 3
    with pytest.raises(TypeError, match="integer"):
        check_positive("n", 2.5, integer=True)
    with pytest.raises(ValueError, match="> 0"):
        check_positive("sigma", 0)
    with pytest.raises(TypeError):
        check_positive("sigma", True)
