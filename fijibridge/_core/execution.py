"""Where and how a computation runs: device, CPU threads, memory budget, progress, randomness.

An :class:`Execution` is what a run *uses* (machine resources), as opposed to what it
*computes* (algorithm parameters, which live in each algorithm's options). One object is
passed down instead of five pass-through parameters; every torch path takes its device from
:func:`resolve_device`, the one place where a device is checked.

torch is imported lazily: only when a device other than ``"cpu"`` must be checked, or when
torch is already loaded and threads are limited.

Examples
--------
>>> ex = Execution(device="cpu", threads=1)
>>> ex.resolved_device()
'cpu'
>>> with ex.limit_threads():
...     pass
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Callable

from .options import did_you_mean

__all__ = ["Execution", "DEVICES", "DEFAULT_MEMORY", "resolve_device", "device_name", "as_execution",
           "torch_device", "limit_torch_threads"]

log = logging.getLogger(__name__)

#: device names :func:`resolve_device` accepts (``"cuda:N"`` too)
DEVICES = ("auto", "cpu", "cuda", "mps")
#: default working-memory budget in bytes (1 GiB)
DEFAULT_MEMORY = 1 << 30


def _cuda_may_exist() -> bool:
    """False only where no GPU driver can be present, so that ``"auto"`` on such a machine
    answers "cpu" without importing torch (~1.2 s, ~160 MB)."""
    if "torch" in sys.modules:
        return True
    if sys.platform.startswith("linux"):
        return any(os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/nvidiactl",
                                               "/dev/nvidia0", "/dev/kfd", "/dev/dxg"))
    return sys.platform != "darwin"  # Windows: ask torch; macOS has no CUDA (MPS below)


def device_name(device) -> str:
    """The normalised device name (``None`` → ``"auto"``), checked for spelling only: no
    torch import, no hardware query (that is :func:`resolve_device`)."""
    if device is None:
        return "auto"
    if not isinstance(device, str):
        if type(device).__name__ == "device" and type(device).__module__.startswith("torch"):
            return str(device)  # a torch.device
        raise TypeError(f"device must be a string, one of {', '.join(DEVICES)} or 'cuda:N'; "
                        f"got {type(device).__name__} {device!r}")
    name = device.strip().lower()
    if name in DEVICES or (name.startswith("cuda:") and name[5:].isdigit()):
        return name
    hint = did_you_mean(name.split(":")[0], DEVICES)
    raise ValueError(f"device must be one of {', '.join(DEVICES)} or 'cuda:N' (N = GPU "
                     f"index); got {device!r}.{hint}")


def resolve_device(device="auto") -> str:
    """Check ``device`` and return the concrete device name: ``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` or ``"mps"``.

    ``"auto"`` (or ``None``): CUDA if available, then Apple's MPS, else the CPU; the choice is
    logged (INFO). A requested device that is absent raises ``ValueError`` — never a silent
    fallback to the CPU.

    Raises
    ------
    ValueError
        Unknown name (with "did you mean"), or a device this machine / torch build lacks.
    TypeError
        Not a string (or ``torch.device``).

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    name = device_name(device)
    if name == "cpu":
        return "cpu"
    if name == "auto":
        if not _cuda_may_exist() and sys.platform != "darwin":
            chosen, why = "cpu", "no GPU driver on this machine"
        else:
            try:
                import torch
            except ImportError:
                chosen, why = "cpu", "torch is not installed"
            else:
                if torch.cuda.is_available():
                    chosen, why = "cuda", f"CUDA GPU {torch.cuda.get_device_name(0)}"
                elif _mps_available(torch):
                    chosen, why = "mps", "Apple MPS"
                else:
                    chosen, why = "cpu", "no CUDA or MPS device"
        log.info("device 'auto' -> %r (%s)", chosen, why)
        return chosen
    try:
        import torch
    except ImportError as e:
        raise ValueError(f"device={device!r} needs torch, which is not installed; use "
                         "device='cpu'") from e
    if name == "mps":
        if not _mps_available(torch):
            raise ValueError(f"device={device!r} but Apple's MPS is not available here (torch "
                             f"{torch.__version__}); use device='auto' or 'cpu'")
        return name
    if not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here (torch "
                         f"{torch.__version__}, built {'with' if torch.version.cuda else 'without'}"
                         " CUDA); use device='auto' or 'cpu'")
    if ":" in name:
        index, count = int(name[5:]), torch.cuda.device_count()
        if index >= count:
            raise ValueError(f"device={device!r} but this machine has {count} CUDA device(s) "
                             f"(cuda:0 … cuda:{count - 1})")
    return name


def _mps_available(torch) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def torch_device(device="auto"):
    """:func:`resolve_device`, as a ``torch.device``."""
    import torch

    return torch.device(resolve_device(device))


@contextlib.contextmanager
def limit_torch_threads(threads: int | None):
    """Set torch's intra-op CPU threads to ``threads`` inside the block and restore the
    previous value on exit (also on error). ``None``: leave torch alone; torch is not
    imported by this function when it is not loaded yet and ``threads`` is ``None``."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclasses.dataclass(frozen=True)
class Execution:
    """Run-time resources of a computation (not its parameters).

    Attributes
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}
        Checked by :func:`resolve_device`; ``"auto"``: CUDA, then MPS, else CPU.
    threads : int or None
        CPU threads for the call (torch's setting is restored afterwards); ``None``: leave
        torch's setting, numpy/scipy back-ends use the cores available to the process.
    memory : int or None
        Working-memory budget in bytes (default 1 GiB); work over it is split into blocks
        where the algorithm supports it. ``None``: no budget.
    progress : bool or callable
        ``True``: a progress bar; a callable ``progress(done, total)`` is called instead.
    rng : int, numpy.random.Generator or None
        Seed or generator for random draws (see :meth:`generator`).
    backend : str
        Compute back-end where an algorithm has several (``"auto"``: the library chooses).
    """

    device: str = "auto"
    threads: int | None = None
    memory: int | None = DEFAULT_MEMORY
    progress: bool | Callable = False
    rng: object = None
    backend: str = "auto"

    def __post_init__(self):
        device_name(self.device)
        if self.threads is not None and (isinstance(self.threads, bool)
                                         or not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be an integer >= 1 or None; got {self.threads!r}")
        if self.memory is not None and (isinstance(self.memory, bool)
                                        or not isinstance(self.memory, (int, float))
                                        or not self.memory > 0):
            raise ValueError(f"memory must be a number of bytes > 0 or None; got {self.memory!r}")
        if not (isinstance(self.progress, bool) or callable(self.progress)):
            raise TypeError(f"progress must be a bool or a callable progress(done, total); got "
                            f"{self.progress!r}")
        if not isinstance(self.backend, str):
            raise TypeError(f"backend must be a string; got {self.backend!r}")

    def resolved_device(self) -> str:
        """The concrete device (see :func:`resolve_device`)."""
        return resolve_device(self.device)

    def resolve(self) -> "Execution":
        """A copy with the device resolved (``"auto"`` decided once, then kept)."""
        return dataclasses.replace(self, device=self.resolved_device())

    def limit_threads(self):
        """Context manager: torch's CPU threads set to :attr:`threads` and restored."""
        return limit_torch_threads(self.threads)

    def generator(self):
        """A numpy ``Generator`` from :attr:`rng` (the same object when it is one)."""
        import numpy as np

        if isinstance(self.rng, np.random.Generator):
            return self.rng
        return np.random.default_rng(self.rng)

    def record(self) -> dict:
        """JSON-able summary for run records (``run.json``)."""
        return {"device": self.device, "threads": self.threads, "memory": self.memory,
                "backend": self.backend}


def as_execution(execution=None, **overrides) -> Execution:
    """``execution`` (an :class:`Execution`, a dict of its fields or ``None``) with the
    ``overrides`` that are not ``None`` applied."""
    if execution is None:
        execution = Execution()
    elif isinstance(execution, dict):
        execution = Execution(**execution)
    elif not isinstance(execution, Execution):
        raise TypeError(f"execution must be an Execution, a dict of its fields or None; got "
                        f"{type(execution).__name__}")
    given = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(execution, **given) if given else execution


def device_field(description: str = "auto | cpu | cuda | cuda:N | mps"):
    """A pydantic field type for a config's ``device`` (default "auto"), spelling checked
    by :func:`device_name` when the config is read (no torch import)."""
    from typing import Annotated

    from pydantic import AfterValidator, Field

    return Annotated[str, AfterValidator(device_name), Field(description=description)]
