"""The DeconvolutionLab2 algorithms: names, aliases, parameters and defaults (no numpy, no torch).

Defaults are those of DeconvolutionLab2 2.1.2's command line, i.e. the values given to the
constructors in ``AlgorithmList.createAlgorithm`` (they differ from the GUI panels' defaults
for TRIF, RLTV, ISTA and FISTA, whose command-line λ is 1). Parameters are positional in DL2
text (``-algorithm TM 20 1 0.001``); trailing ones may be left out and take these defaults.
"""

from __future__ import annotations

import dataclasses

__all__ = ["AlgorithmSpec", "ALGORITHMS", "ALIASES", "lookup_algorithm", "algorithm_names"]


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    """One DeconvolutionLab2 algorithm.

    Attributes
    ----------
    name : str
        DL2's first short name (``"RL"``), used in command text.
    title : str
        DL2's long name.
    params : tuple of str
        Positional parameters in DL2 order, with fijibridge's keyword names
        (``num_iter``, ``step`` = γ, ``reg`` = λ, ``scales``; SIM: ``mean``, ``stdev``, ``poisson``).
    defaults : tuple of float
        DL2 command-line defaults, same order.
    iterative : bool
    forced_constraint : str or None
        Constraint the algorithm imposes whatever ``-constraint`` says
        (DL2's ``Deconvolution.setCommand`` "forces the constraint of the algorithm").
    """

    name: str
    title: str
    params: tuple[str, ...]
    defaults: tuple[float, ...]
    iterative: bool
    aliases: tuple[str, ...] = ()
    forced_constraint: str | None = None
    wavelets: bool = False


_SPECS = (
    AlgorithmSpec("NIF", "Naive Inverse Filter", (), (), False, ("IF",)),
    AlgorithmSpec("RIF", "Regularized Inverse Filter", ("reg",), (0.1,), False, ("LRIF",)),
    AlgorithmSpec("TRIF", "Tikhonov Regularized Inverse Filter", ("reg",), (1.0,), False, ("TR",)),
    AlgorithmSpec("RL", "Richardson-Lucy", ("num_iter",), (10,), True),
    AlgorithmSpec("RLTV", "Richardson-Lucy Total Variation", ("num_iter", "reg"), (10, 1.0), True),
    AlgorithmSpec("LW", "Landweber", ("num_iter", "step"), (10, 1.0), True, ("LLS",)),
    AlgorithmSpec("NNLS", "Non-Negative Least Squares (Landweber, non-negative)",
                  ("num_iter", "step"), (10, 1.0), True, ("LW+",), forced_constraint="nonnegativity"),
    AlgorithmSpec("BVLS", "Bounded-Variable Least Squares", ("num_iter", "step"), (10, 1.0), True,
                  ("SP",), forced_constraint="clipped"),
    AlgorithmSpec("VC", "Van Cittert", ("num_iter", "step"), (10, 1.0), True),
    AlgorithmSpec("TM", "Tikhonov-Miller", ("num_iter", "step", "reg"), (10, 1.0, 0.1), True),
    AlgorithmSpec("ICTM", "Iterative Constrained Tikhonov-Miller", ("num_iter", "step", "reg"),
                  (10, 1.0, 0.1), True, forced_constraint="nonnegativity"),
    AlgorithmSpec("ISTA", "Iterative Shrinkage-Thresholding", ("num_iter", "step", "reg", "scales"),
                  (10, 1.0, 1.0, 3), True, wavelets=True),
    AlgorithmSpec("FISTA", "Fast Iterative Shrinkage-Thresholding",
                  ("num_iter", "step", "reg", "scales"), (10, 1.0, 1.0, 3), True, wavelets=True),
    AlgorithmSpec("CONV", "Convolution (noiseless simulation)", (), (), False),
    AlgorithmSpec("SIM", "Simulation with noise", ("mean", "stdev", "poisson"), (0.0, 1.0, 0.0),
                  False, ("SIMU",)),
)

#: canonical name -> spec
ALGORITHMS: dict[str, AlgorithmSpec] = {s.name: s for s in _SPECS}
#: every accepted spelling (upper case) -> canonical name
ALIASES: dict[str, str] = {}
for _s in _SPECS:
    ALIASES[_s.name.upper()] = _s.name
    for _a in _s.aliases:
        ALIASES[_a.upper()] = _s.name


def algorithm_names() -> list[str]:
    """Canonical names, in DL2's order of this module."""
    return list(ALGORITHMS)


def lookup_algorithm(name: str) -> AlgorithmSpec:
    """Return the spec for ``name`` (case-insensitive, DL2 aliases accepted) or raise ValueError
    with a "did you mean" suggestion."""
    from .._core.options import did_you_mean

    if not isinstance(name, str):
        raise TypeError(f"algorithm must be a string such as 'RL'; got {name!r}")
    key = name.strip().upper()
    if key in ALIASES:
        return ALGORITHMS[ALIASES[key]]
    allowed = algorithm_names()
    hint = did_you_mean(key, list(ALIASES)) or did_you_mean(key, allowed)
    if hint:  # suggest the canonical name, not an alias spelling
        guess = hint.split("'")[1]
        hint = f" Did you mean {ALIASES.get(guess.upper(), guess)}?"
    raise ValueError(f"unknown algorithm {name!r}; allowed: {', '.join(allowed)}.{hint}")
