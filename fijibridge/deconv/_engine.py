"""The numerical core: DL2's algorithms on torch tensors (float32, CPU or CUDA).

Each ``_run_<name>`` receives the padded, apodized image ``y`` and the working PSF ``h``
(origin at voxel 0) as tensors and returns the estimate on the working grid. A
:class:`_Controller` reproduces DL2's ``Controller.ends``: it is called *before* every update
(and once after the last), applies the constraint to spatial estimates, computes the residual,
stops on ``num_iter`` or ``residu``, and guards against divergence.

:func:`run` dispatches: on the CPU every algorithm goes to the numpy +
pocketfft runners of :mod:`fijibridge.deconv._engine_numpy` (same arithmetic, same
:class:`_Controller` on numpy arrays, torch not imported); see :func:`choose_backend`.
"""

from __future__ import annotations

import contextlib
import logging
import math

import numpy as np

from .._core.errors import DivergenceError
from .._core.execution import device_name, limit_torch_threads, resolve_device
from . import _haar
from ._prepare import crop_image, laplacian_grid, working_laplacian
from .options import MAX_GROWTH  # noqa: F401  (re-exported: the engine's default guard)

log = logging.getLogger(__name__)

def import_torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - torch is a dependency
        raise ImportError("native deconvolution needs torch (pip install torch)") from e
    return torch


class _FFT:
    """Real (rfftn) or full complex (fftn) transforms over all axes of the working grid."""

    def __init__(self, torch, shape, full: bool, precise: bool = False):
        self.torch = torch
        # precise: transforms computed in float64, results stored in 32 bits (as DL2 stores them)
        self.precise = precise
        self.shape = tuple(shape)
        self.dims = tuple(range(-len(shape), 0))
        self.full = full

    def fwd(self, x, out=None):
        t = self.torch
        if self.precise:
            f = t.fft.fftn if self.full else t.fft.rfftn
            r = f(x.double(), dim=self.dims).to(t.complex64)
            if out is not None:
                out.copy_(r)
                return out
            return r
        if self.full:
            return t.fft.fftn(x, dim=self.dims)
        if out is not None:
            return t.fft.rfftn(x, dim=self.dims, out=out)
        return t.fft.rfftn(x, dim=self.dims)

    def inv(self, X, out=None):
        t = self.torch
        if self.precise:
            if self.full:
                r = t.fft.ifftn(X.to(t.complex128), dim=self.dims).real.float()
            else:
                r = t.fft.irfftn(X.to(t.complex128), s=self.shape, dim=self.dims).float()
            if out is not None:
                out.copy_(r)
                return out
            return r
        if self.full:
            r = t.fft.ifftn(X, dim=self.dims).real
            if out is not None:
                out.copy_(r)
                return out
            return r.contiguous()
        if out is not None:
            return t.fft.irfftn(X, s=self.shape, dim=self.dims, out=out)
        return t.fft.irfftn(X, s=self.shape, dim=self.dims)

    def grid(self, full_grid: np.ndarray, device):
        g = full_grid if self.full else full_grid[..., : self.shape[-1] // 2 + 1]
        return self.torch.as_tensor(np.ascontiguousarray(g), device=device)


class _Controller:
    def __init__(self, torch, y, *, name, num_iter, constraint, residu, epsilon, monitor,
                 image_shape, max_growth, ops=None):
        # torch=None: numpy arrays (the numpy backend); ``ops`` then provides ``norm``
        self.torch = torch
        self._ops = ops
        self.name = name
        self.num_iter = int(num_iter)
        self.constraint = constraint
        self.residu = residu
        self.epsilon = epsilon
        self.monitor = monitor
        self.image_shape = image_shape
        self.iterations = 0
        self.bounds = (float(y.min()), float(y.max())) if constraint == "clipped" else None
        self.need_residual = residu is not None or (monitor is not None and monitor.needs_spatial)
        self.prev = self._copy(y) if self.need_residual else None
        self.y_norm = self._norm(y) or 1.0
        self.max_growth = max_growth
        self.last_residual = float("nan")
        self.hint = ""
        self.stopped_by = "iterations"
        if monitor is not None:
            monitor.start(name, self.num_iter)

    @property
    def spatial(self) -> bool:
        return self.need_residual

    def _norm(self, x) -> float:
        if self.torch is None:
            return self._ops.norm(x) if self._ops is not None else float(np.linalg.norm(x.ravel()))
        return float(self.torch.linalg.vector_norm(x))

    def _copy(self, x):
        return x.copy() if self.torch is None else x.clone()

    def apply_constraint(self, x):
        if self.torch is None:
            if self.constraint == "nonnegativity":
                np.maximum(x, 0, out=x)
            elif self.constraint == "clipped":
                np.clip(x, self.bounds[0], self.bounds[1], out=x)
            return x
        if self.constraint == "nonnegativity":
            x.clamp_(min=0)
        elif self.constraint == "clipped":
            x.clamp_(min=self.bounds[0], max=self.bounds[1])
        return x

    def _check(self, norm: float, where: str):
        """Stop a diverging run: ``norm`` is ||x||, ``where`` says where it was taken."""
        if not math.isfinite(norm):
            raise DivergenceError(
                f"{self.name} diverged: NaN/inf in the estimate {where} (iteration "
                f"{self.iterations}). Lower the step γ or raise λ, or use fewer iterations "
                "(e.g. TM 50 1 0.1 with DL2's defaults is unstable; TM 20 1 0.001 is not)")
        if self.max_growth is not None and norm > self.max_growth * self.y_norm:
            raise DivergenceError(
                f"{self.name} diverged: the estimate's energy exploded to {norm / self.y_norm:.3g}× "
                f"that of the image{' ' + where if where else ''} (iteration {self.iterations}; limit max_growth="
                f"{self.max_growth:g}). Lower the step γ or raise λ; pass max_growth=None to "
                "disable this guard" + self.hint)

    def ends(self, x=None, X=None, fft=None, norm=None) -> bool:
        """DL2 ``Controller.ends``; give the spatial estimate ``x`` or the spectrum ``X``.

        ``norm``: ``||x||`` computed by the caller's last update pass, where that pass has
        already applied the constraint (only without a residual: see :attr:`spatial`); it saves
        a pass over ``x`` per iteration.
        """
        torch = self.torch
        if x is None and X is not None:
            # a Fourier-domain algorithm's update loop runs only where its iterations are
            # observed (a residual, statistics: see _iterate_spectrum), which needs the
            # spatial estimate; the constraint acts on that copy only (as in DL2)
            x = fft.inv(X)
        if x is not None:
            if norm is None or self.need_residual:
                if self.constraint != "no":
                    self.apply_constraint(x)
                norm = self._norm(x)
            residual = float("nan")
            self._check(norm, "")
            if self.prev is not None:
                diff = self._norm(x - self.prev)
                n = math.sqrt(x.size if torch is None else x.numel())
                residual = (diff / n) / max(self._norm(self.prev) / n, self.epsilon)
                if torch is None:
                    np.copyto(self.prev, x)
                else:
                    self.prev.copy_(x)
            self.last_residual = residual
            if self.monitor is not None:
                est = None
                if self.monitor.needs_spatial:
                    est = crop_image(x, self.image_shape)
                    if torch is not None:
                        est = est.detach().cpu().numpy()
                if not self.monitor.record(self.iterations, est, residual):
                    self.stopped_by = "callback"
                    self.iterations += 1
                    return True
        self.iterations += 1
        if self.iterations > self.num_iter:
            return True
        if (self.residu is not None and self.iterations > 1
                and self.last_residual <= self.residu):
            self.stopped_by = "residu"
            log.info("%s stopped by residu %.4g <= %.4g after %d iterations", self.name,
                     self.last_residual, self.residu, self.iterations - 1)
            return True
        return False


# --------------------------------------------------------------------------- direct methods

def _spectra(torch, fft, y, h):
    return fft.fwd(y), fft.fwd(h)


def _run_nif(torch, fft, y, h, p, eps, ctrl, **kw):
    Y, H = _spectra(torch, fft, y, h)
    mag = (H.real * H.real + H.imag * H.imag).clamp_(min=eps)
    return fft.inv(Y * H.conj() / mag)


def _run_conv(torch, fft, y, h, p, eps, ctrl, **kw):
    Y, H = _spectra(torch, fft, y, h)
    return fft.inv(Y * H)


def add_sim_noise(x: np.ndarray, p, eps, rng=None) -> np.ndarray:
    """DL2's SIM noise on the convolved image ``x``: Gaussian (``mean``, ``stdev``), then
    Poisson of ``x / poisson`` scaled back where ``x > epsilon``; float32."""
    gen = np.random.default_rng(rng)
    a = np.asarray(x, dtype=np.float64)
    a += gen.normal(p["mean"], p["stdev"], a.shape) if p["stdev"] > 0 or p["mean"] != 0 else 0
    if p["poisson"] >= eps:
        pos = a > eps
        a[pos] = gen.poisson(a[pos] / p["poisson"]) * p["poisson"]
    return a.astype(np.float32)


def _run_sim(torch, fft, y, h, p, eps, ctrl, rng=None, **kw):
    x = _run_conv(torch, fft, y, h, p, eps, ctrl)
    a = add_sim_noise(x.detach().cpu().numpy(), p, eps, rng)
    return torch.as_tensor(a, device=x.device)


def _laplacian(torch, fft, device, lap=None):
    """DL2's Laplacian on the working grid (``lap``: the full grid when the caller has it)."""
    return fft.grid(laplacian_grid(fft.shape) if lap is None else lap, device)


def _run_rif(torch, fft, y, h, p, eps, ctrl, lap=None, **kw):
    Y, H = _spectra(torch, fft, y, h)
    L = _laplacian(torch, fft, y.device, lap)
    F = H * H + p["reg"] * L * L
    mag = (F.real * F.real + F.imag * F.imag).clamp_(min=eps)
    return fft.inv(Y * H * F.conj() / mag)


def _run_trif(torch, fft, y, h, p, eps, ctrl, **kw):
    Y, H = _spectra(torch, fft, y, h)
    F = H * H + p["reg"]
    mag = F.real * F.real + F.imag * F.imag
    e2 = float(np.float32(eps * eps))
    mag = torch.where(mag >= e2, mag, torch.full_like(mag, e2))
    return fft.inv(Y * H * F.conj() / mag)


# --------------------------------------------------------------- Fourier-domain iterations

def _geometric_sum(torch, A, m: int):
    """``S = A^0 + A^1 + … + A^(m-1)`` element-wise, by doubling: ``S_2k = S_k (1 + A^k)``,
    ``S_k+1 = 1 + A S_k``: ~2 log2(m) multiplications instead of m, and no division (exact for
    ``A = 1``, where the quotient formula ``(1 - A^m) / (1 - A)`` is 0/0 and loses all digits
    near it)."""
    bits = bin(m)[3:]
    if not bits:
        return torch.ones_like(A)
    S = A + 1.0               # S_2 = 1 + A (the first doubling, from S_1 = 1, P_1 = A)
    P = None
    for i, bit in enumerate(bits):
        last = i == len(bits) - 1
        if i:
            S.addcmul_(S, P)  # S_2k = S_k + S_k A^k
        if not last:
            P = A * A if P is None else P.mul_(P)   # A^2k
        if bit == "1":
            S.mul_(A).add_(1.0)   # S_2k+1 = 1 + A S_2k
            if not last:
                P.mul_(A)
    return S


def _iterate_spectrum(torch, fft, A, G, ctrl):
    """DL2's ``X_0 = G; X_k+1 = A X_k + G`` for ``num_iter`` updates.

    Where nothing observes the iterations (no ``residu``, no statistics) the result is computed in
    closed form, ``X_n = G (A^0 + … + A^n)`` (:func:`_geometric_sum`): ~2 log2(n) element-wise
    passes instead of n updates and n norms. It differs from the update loop by float32
    rounding only (the loop accumulates ~n roundings per frequency, the doubling ~log2 n), and
    the divergence guard then checks the final estimate (a diverging iteration's energy grows
    without bound, so the end is where it is largest).
    """
    if not ctrl.need_residual and (ctrl.monitor is None or not ctrl.monitor.stats):
        X = G.mul_(_geometric_sum(torch, A, ctrl.num_iter + 1))
        if ctrl.monitor is not None:  # a progress display only: all iterations done at once
            for k in range(ctrl.num_iter + 1):
                ctrl.monitor.record(k, None, float("nan"))
        ctrl.iterations = ctrl.num_iter + 1
        return fft.inv(X)
    X = G.clone()
    while not ctrl.ends(X=X, fft=fft):
        X.mul_(A).add_(G)
    return fft.inv(X)


def _landweber_terms(torch, Y, H, g):
    """``A = 1 - g |H|²`` and ``G = g conj(H) Y`` with no temporaries of the spectrum's size
    (``H`` becomes ``G``; ``Y`` is left as it is)."""
    hr = torch.view_as_real(H)
    A = hr[..., 0] * hr[..., 0]
    A.addcmul_(hr[..., 1], hr[..., 1]).mul_(-g).add_(1.0)
    G = H.conj_physical_().mul_(g).mul_(Y)
    return A, G


def _run_lw(torch, fft, y, h, p, eps, ctrl, **kw):
    Y, H = _spectra(torch, fft, y, h)
    A, G = _landweber_terms(torch, Y, H, p["step"])
    del Y, H
    return _iterate_spectrum(torch, fft, A, G, ctrl)


def _run_vc(torch, fft, y, h, p, eps, ctrl, **kw):
    Y, H = _spectra(torch, fft, y, h)
    g = p["step"]
    A = 1.0 - g * H
    G = g * Y
    del Y, H
    return _iterate_spectrum(torch, fft, A, G, ctrl)


def _run_tm(torch, fft, y, h, p, eps, ctrl, lap=None, **kw):
    Y, H = _spectra(torch, fft, y, h)
    g, lam = p["step"], p["reg"]
    L = _laplacian(torch, fft, y.device, lap)
    A, G = _landweber_terms(torch, Y, H, g)
    A.addcmul_(L, L, value=-(lam * g))   # - λγ L²
    del Y, H, L
    return _iterate_spectrum(torch, fft, A, G, ctrl)


# ------------------------------------------------------------------- spatial iterations

def _run_rl(torch, fft, y, h, p, eps, ctrl, **kw):
    H = fft.fwd(h)
    x = y.clone()
    U = torch.empty_like(H)
    u = torch.empty_like(y)
    mask = torch.empty(y.shape, dtype=torch.bool, device=y.device)
    while not ctrl.ends(x=x):
        fft.fwd(x, out=U)
        U.mul_(H)
        fft.inv(U, out=u)
        torch.lt(u, eps, out=mask)
        torch.div(y, u, out=u)           # u <- y / (H x)
        u.masked_fill_(mask, 0.0)        # DL2: 0 where H x < epsilon
        fft.fwd(u, out=U)
        U.mul_(H.conj())
        fft.inv(U, out=u)
        x.mul_(u)
    return x


def _run_rltv(torch, fft, y, h, p, eps, ctrl, **kw):
    # Buffers reused exactly as DL2 does: u = gx, p = gy, tv = gz, so the last x/y/z slice of the
    # gradients carries the previous iteration's u, p, tv (DL2's gradients leave it unwritten)
    # and ggx/ggy/ggz keep the input image there.
    lam = p["reg"]
    H = fft.fwd(h)
    x = y.clone()
    gx, gy, gz, ggx, ggy, ggz = (y.clone() for _ in range(6))
    U = torch.empty_like(H)
    nd = y.ndim
    ax = {"x": nd - 1, "y": nd - 2, "z": 0 if nd == 3 else None}

    def grad(src, dst, axis):
        if axis is None:
            return
        n = src.shape[axis]
        # written straight into the view: no temporary of the volume's size
        torch.sub(src.narrow(axis, 0, n - 1), src.narrow(axis, 1, n - 1),
                  out=dst.narrow(axis, 0, n - 1))

    e = float(np.float32(eps))
    norm = torch.empty_like(y)
    # 0/1 masks as float32: a multiply-add is exact here and ~10x faster than masked_fill_
    # on the CPU (x * 1 + 0 = x, x * 0 + c = c for finite x; NaN stays NaN)
    keep, other = torch.empty_like(y), torch.empty_like(y)

    def masks(value, threshold):
        torch.ge(value, threshold, out=keep)        # 1 where value >= threshold
        torch.neg(keep, out=other).add_(1.0)        # 1 where value < threshold or NaN

    while not ctrl.ends(x=x):
        grad(x, gx, ax["x"])
        grad(x, gy, ax["y"])
        grad(x, gz, ax["z"])
        # |grad| in place (same float32 operations and order as (gx² + gy²) + gz²)
        torch.mul(gx, gx, out=norm)
        norm.addcmul_(gy, gy).addcmul_(gz, gz).sqrt_()
        masks(norm, e)
        norm.mul_(keep).add_(other)     # the divisor: |grad| where |grad| >= e, else 1
        other.mul_(e)                   # and those voxels get e
        for g in (gx, gy, gz):
            g.div_(norm).mul_(keep).add_(other)
        grad(gx, ggx, ax["x"])
        grad(gy, ggy, ax["y"])
        grad(gz, ggz, ax["z"])
        tv = gz
        torch.add(ggx, ggy, out=tv)
        tv.add_(ggz).mul_(lam).add_(1.0).reciprocal_()
        u, pp = gx, gy
        fft.fwd(x, out=U)
        U.mul_(H)
        fft.inv(U, out=u)
        masks(u, eps)                   # DL2: y / u, and 0 where u < epsilon
        u.mul_(keep).add_(other)        # u there becomes 1 (u is overwritten next)
        torch.div(y, u, out=pp).mul_(keep)
        fft.fwd(pp, out=U)
        U.mul_(H.conj())
        fft.inv(U, out=u)
        x.mul_(u).mul_(tv)
    return x


def fista_momentum(pk0):
    """FISTA's next ``t_k`` and the momentum weight ``(t_k-1 - 1) / t_k``, in DL2's float
    arithmetic (``pk0``: the previous ``t``, a float32)."""
    one = np.float32(1)
    root = np.float32(math.sqrt(one + np.float32(4) * pk0 * pk0))
    pk1 = np.float32((one + root) * np.float32(0.5))
    return pk1, np.float32((pk0 - one) / pk1)


def _run_ista(torch, fft, y, h, p, eps, ctrl, haar="dl2", fast=False, **kw):
    Y, H = _spectra(torch, fft, y, h)
    g, lam, scales = p["step"], p["reg"], p["scales"]
    A, G = _landweber_terms(torch, Y, H, g)
    del Y, H
    threshold = float(np.float32(lam * g * 0.5))
    x = fft.inv(G)
    if not fast:
        while not ctrl.ends(x=x):
            Z = fft.fwd(x)
            Z.mul_(A).add_(G)
            x = _haar.shrinkage(torch, fft.inv(Z), threshold, scales, haar)
        return x
    s = x.clone()
    xprev = x.clone()
    pk1 = np.float32(1.0)
    while not ctrl.ends(x=x):
        Z = fft.fwd(s)
        Z.mul_(A).add_(G)
        x = _haar.shrinkage(torch, fft.inv(Z), threshold, scales, haar)
        pk1, w = fista_momentum(pk1)
        torch.add(x, x - xprev, alpha=float(w), out=s)
        xprev.copy_(x)
    return x


def _run_fista(torch, fft, y, h, p, eps, ctrl, haar="dl2", **kw):
    return _run_ista(torch, fft, y, h, p, eps, ctrl, haar=haar, fast=True)


RUNNERS = {
    "NIF": _run_nif, "RIF": _run_rif, "TRIF": _run_trif, "CONV": _run_conv, "SIM": _run_sim,
    "RL": _run_rl, "RLTV": _run_rltv, "LW": _run_lw, "NNLS": _run_lw, "BVLS": _run_lw,
    "VC": _run_vc, "TM": _run_tm, "ICTM": _run_tm, "ISTA": _run_ista, "FISTA": _run_fista,
}
#: algorithms whose filters use DL2's Laplacian (not Hermitian-symmetric for odd sizes)
USES_LAPLACIAN = {"RIF", "TM", "ICTM"}


#: ``backend`` values of :func:`run`
BACKENDS = ("auto", "numpy", "torch")


def choose_backend(name: str, device: str, backend: str = "auto") -> str:
    """``"numpy"`` or ``"torch"`` for algorithm ``name`` on ``device``.

    ``"auto"``: numpy/pocketfft on the CPU for the algorithms it implements (all of DL2's;
    faster, and ~1.2 s and ~160 MB lighter per process since torch is not imported), torch
    otherwise (CUDA, MPS). ``"numpy"`` where numpy cannot run (a GPU device, or an algorithm
    without a numpy runner) is an error, not a silent switch.
    """
    from ._engine_numpy import RUNNERS as NUMPY_RUNNERS

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    # a concrete name is only parsed here (the caller resolved it); "auto" is resolved
    dev = device_name(device)
    cpu = (resolve_device(dev) if dev == "auto" else dev) == "cpu"
    if backend == "numpy":
        if not cpu:
            raise ValueError(f"backend='numpy' runs on the CPU only; got device {device!r} "
                             "(use backend='auto' or 'torch')")
        if name not in NUMPY_RUNNERS:
            raise ValueError(f"backend='numpy' runs {', '.join(NUMPY_RUNNERS)}; got algorithm "
                             f"{name} (use backend='auto' or 'torch')")
        return "numpy"
    if backend == "auto" and cpu and name in NUMPY_RUNNERS:
        return "numpy"
    return "torch"


def _warn_dl2_haar(spec, params, shape, haar, ctrl):
    """ISTA/FISTA with DL2's Haar on a grid it cannot invert: a warning, and the hint the
    divergence error gives."""
    if not (spec.wavelets and haar == "dl2"):
        return
    div = 2 ** max(0, params["scales"] - 1)
    odd = [n for n in shape if n % div]
    if odd:
        msg = (f"; DL2's Haar transform is not invertible for sizes not divisible by "
               f"2**(scales-1)={div} (here {odd}), which makes {spec.name} unstable: use "
               "haar='orthonormal' or pad the image (pad='E2 E2')")
        ctrl.hint = msg
        log.warning("%s with DL2's Haar wavelets on a %s grid%s", spec.name, tuple(shape), msg)


def _run_numpy_backend(spec, params, y_np, h_np, *, image_shape, constraint, residu, epsilon,
                       monitor, max_growth, threads, haar, rng=None):
    from . import _engine_numpy

    y = np.ascontiguousarray(y_np, dtype=np.float32)
    h = np.ascontiguousarray(h_np, dtype=np.float32)

    def make_ctrl(ops):
        if not spec.iterative:
            return None
        ctrl = _Controller(None, y, name=spec.name, num_iter=params.get("num_iter", 0),
                           constraint=constraint, residu=residu, epsilon=epsilon,
                           monitor=monitor, image_shape=image_shape, max_growth=max_growth,
                           ops=ops)
        _warn_dl2_haar(spec, params, y.shape, haar, ctrl)
        return ctrl

    threads = _engine_numpy.default_threads() if threads is None else int(threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    ctrl = None
    try:
        x, ctrl, norm = _engine_numpy.run_numpy(spec, params, y, h, make_ctrl, epsilon=epsilon,
                                                threads=threads, rng=rng, haar=haar)
    finally:
        if monitor is not None:
            monitor.finish()
    if ctrl is None:
        _check_direct(spec, bool(np.isfinite(x).all()))
        return x
    # DL2's last ends() call has already run; check the returned estimate as well
    ctrl._check(norm, "at the end")
    if monitor is not None:
        monitor.stopped_by = ctrl.stopped_by
    return x


def _check_direct(spec, finite: bool):
    """A direct method's result must be finite (1/H where the PSF spectrum has zeros is not)."""
    if not finite:
        raise DivergenceError(f"{spec.name} produced NaN/inf (the PSF spectrum has zeros; "
                              "use RIF/TRIF with λ > 0, or raise -epsilon)")


def run(spec, params, y_np, h_np, *, image_shape, constraint, residu, epsilon, monitor, device,
        max_growth, haar, rng=None, backend="auto", threads=None):
    """Run ``spec`` on prepared numpy arrays; return the working-grid estimate (numpy float32).

    ``backend``: see :func:`choose_backend`. ``threads``: CPU threads (``None``: the numpy
    backend uses the cores available to the process, torch its current setting; torch's
    setting is restored afterwards).
    """
    if choose_backend(spec.name, device, backend) == "numpy":
        return _run_numpy_backend(spec, params, y_np, h_np, image_shape=image_shape,
                                  constraint=constraint, residu=residu, epsilon=epsilon,
                                  monitor=monitor, max_growth=max_growth, threads=threads,
                                  haar=haar, rng=rng)
    torch = import_torch()
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    from ._engine_numpy import recycled_heap

    # on the CPU torch allocates every tensor of the working grid with malloc; without a
    # recycled heap each one above glibc's mmap threshold is page-faulted in afresh: FISTA
    # (float64 spectra) ran ~1.9x slower, RLTV ~10 % (benchmarks/deconv_speed.py)
    heap = (recycled_heap(torch_array_bytes(spec, y_np.shape))
            if resolve_device(device) == "cpu" else contextlib.nullcontext())
    with limit_torch_threads(threads), heap:
        return _run_torch(torch, spec, params, y_np, h_np, image_shape=image_shape,
                          constraint=constraint, residu=residu, epsilon=epsilon, monitor=monitor,
                          device=device, max_growth=max_growth, haar=haar, rng=rng)


def torch_array_bytes(spec, shape) -> int:
    """Bytes of the largest array a torch runner allocates on ``shape``: a full complex
    spectrum, complex128 for the wavelet algorithms (float64 transforms), else complex64."""
    return int(np.prod(shape, dtype=np.int64)) * (16 if spec.wavelets else 8)


def _run_torch(torch, spec, params, y_np, h_np, *, image_shape, constraint, residu, epsilon,
               monitor, device, max_growth, haar, rng):
    dev = torch.device(resolve_device(device))
    # the Laplacian grid is computed once (it decides the transform and is the filter); for
    # even sizes directly on the half grid (Hermitian by construction)
    lap, full = None, False
    if spec.name in USES_LAPLACIAN:
        lap, full = working_laplacian(y_np.shape)
    fft = _FFT(torch, y_np.shape, full, precise=spec.wavelets)
    y = torch.as_tensor(y_np, device=dev)
    h = torch.as_tensor(h_np, device=dev)
    ctrl = _Controller(torch, y, name=spec.name, num_iter=params.get("num_iter", 0),
                       constraint=constraint, residu=residu, epsilon=epsilon, monitor=monitor,
                       image_shape=image_shape, max_growth=max_growth) if spec.iterative else None
    _warn_dl2_haar(spec, params, y_np.shape, haar, ctrl)
    with torch.no_grad():
        try:
            x = RUNNERS[spec.name](torch, fft, y, h, params, epsilon, ctrl, haar=haar, rng=rng,
                                   lap=lap)
        finally:
            if monitor is not None:
                monitor.finish()
        if ctrl is not None:
            # DL2's last ends() call has already run; check the returned estimate as well
            ctrl._check(float(torch.linalg.vector_norm(x)), "at the end")
        else:
            _check_direct(spec, bool(torch.isfinite(x).all()))
        out = x.detach().cpu().numpy()
    if monitor is not None and ctrl is not None:
        monitor.stopped_by = ctrl.stopped_by
    return out
