"""The CPU training kernel of the self-attention stream in C: attention with dropout on its weights, row by row.

``attention_native.c`` computes what :mod:`~valstudy.kernels.attention_torch` computes, with the same dropout masks
(the caller draws the same random bits from the same seed), but a block of rows of the (n, n) weights at a time, so
the weights stay in the L1 cache instead of going to memory and back; backward recomputes them from q, k and each
row's log-sum-exp. It is compiled on first use with the machine's C compiler (``$CC``, else ``cc``) into
``$VALSTUDY_KERNEL_DIR`` (default ``~/.cache/valstudy/kernels``), under a name that hashes the source, the compiler,
the flags and the CPU, since ``-march=native`` code runs only on CPUs like the one that built it. A compiler that
refuses ``-fopenmp`` (clang without libomp) builds a one-thread kernel with ``-fopenmp-simd``. Without a compiler, or
with ``VALSTUDY_NATIVE=0``, the torch-operations kernel runs instead: the same function, slower; a missing compiler is
said once (a warning), never passed over in silence. docs/kernels.md has the compilers and timings.

Matrices (one image's head each) are split between ``torch.get_num_threads()`` OpenMP threads. The library links
``libgomp.so.1``, which torch has already loaded, so the kernel reuses torch's own thread pool instead of a second
set of threads competing for the cores. Each matrix is computed by one thread: results do not depend on the thread
count.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch

from .dropout_mask import dropout_keep_probability, dropout_threshold

SOURCE = Path(__file__).with_name("attention_native.c")
FLAGS = ("-O3", "-march=native", "-fopenmp", "-fPIC", "-shared")
_lock = threading.Lock()
_state: dict = {}


def _cpu_signature() -> str:
    """The CPU's model and feature flags (what -march=native compiles for)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine() + platform.processor()
    keep = [ln for ln in lines if ln.startswith(("model name", "flags", "Features"))]
    return platform.machine() + "\n" + "\n".join(dict.fromkeys(keep))


def kernel_dir() -> Path:
    return Path(os.environ.get("VALSTUDY_KERNEL_DIR") or Path.home() / ".cache" / "valstudy" / "kernels")


def _compile(compiler: str, flags: tuple[str, ...] = FLAGS) -> Path:
    """Build the shared library (once per source, compiler, flags and CPU) and return its path; written atomically.

    A compiler without OpenMP (``-fopenmp`` refused) gets a second try with ``-fopenmp-simd``: one thread, still
    vectorised. The error of the last try is raised.
    """
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join((compiler, *flags)).encode()
                         + _cpu_signature().encode()).hexdigest()
    target = kernel_dir() / f"attention_native-{key[:16]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        subprocess.run([compiler, *flags, "-o", tmp, str(SOURCE), "-lm"], check=True, capture_output=True, text=True)
        os.replace(tmp, target)
    except subprocess.CalledProcessError:
        if "-fopenmp" not in flags:
            raise
        return _compile(compiler, tuple("-fopenmp-simd" if f == "-fopenmp" else f for f in flags))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _bind(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    p, i16, f, i64, i32, u64 = (ctypes.c_void_p, ctypes.c_int16, ctypes.c_float, ctypes.c_int64, ctypes.c_int,
                                ctypes.c_uint64)
    lib.val_attention_forward.argtypes = [p, p, p, f, i32, u64, i16, f, p, p, i64, i64, i64, i32]
    lib.val_attention_backward.argtypes = [p, p, p, f, i32, u64, i16, f, p, p, p, p, p, i64, i64, i64, i32]
    lib.val_attention_forward.restype = lib.val_attention_backward.restype = ctypes.c_int
    return lib


def set_native(on: bool) -> None:
    """Use the C kernel where it is available (the default), or the torch-operations kernel (for comparisons)."""
    _state["off"] = not on


def library() -> ctypes.CDLL | None:
    """The compiled kernel, or None (``VALSTUDY_NATIVE=0``, :func:`set_native` (False), no C compiler, or a failed
    build: the last two are said once, as a warning)."""
    if _state.get("off"):
        return None
    if "lib" in _state:  # the hot path (every attention call): no lock once it is decided
        return _state["lib"]
    with _lock:
        if "lib" in _state:
            return _state["lib"]
        lib, why = None, None
        if os.environ.get("VALSTUDY_NATIVE", "1") == "0":
            pass
        elif (compiler := shutil.which(os.environ.get("CC", "cc"))) is None:
            why = f"no C compiler ({os.environ.get('CC', 'cc')}) on PATH"
        else:
            try:
                lib = _bind(_compile(compiler))
            except (OSError, subprocess.CalledProcessError) as e:
                detail = getattr(e, "stderr", "") or str(e)
                why = f"building {SOURCE.name} failed: {detail.strip().splitlines()[-1] if detail.strip() else e}"
        if why:
            warnings.warn(f"valstudy: {why}; the self-attention's CPU training kernel runs on torch operations "
                          "(same results, slower). Install a C compiler (gcc) for the faster kernel.", RuntimeWarning,
                          stacklevel=3)
        _state["lib"] = lib
        return lib


def _check(code: int) -> None:
    if code:
        raise MemoryError("valstudy attention kernel: a thread could not allocate its rows of weights")


class NativeDropoutAttention(torch.autograd.Function):
    """out = V (P * mask / keep)^T, P = softmax(alpha Q^T K), for float32 q, k, v in (B, heads, d, n) on the CPU.

    The mask is drawn from ``seed`` (the bits of :func:`~valstudy.kernels.dropout_mask.mask_bits`) when p > 0;
    keep is :func:`~valstudy.kernels.dropout_mask.dropout_keep_probability` (p). Saves q, k, v and each row's
    log-sum-exp (B*heads, n); backward recomputes the weights and the mask.
    """

    @staticmethod
    def forward(ctx, q, k, v, alpha: float, p: float, seed: int):
        lib = library()
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        batch, heads, d, n = q.shape
        masked, threshold, keep = int(p > 0), dropout_threshold(p), dropout_keep_probability(p)
        out = torch.empty_like(v)
        lse = torch.empty(batch * heads, n, dtype=q.dtype)
        _check(lib.val_attention_forward(q.data_ptr(), k.data_ptr(), v.data_ptr(), alpha, masked, seed, threshold,
                                         1.0 / keep, out.data_ptr(), lse.data_ptr(), batch * heads, d, n,
                                         torch.get_num_threads()))
        ctx.save_for_backward(q, k, v, lse)
        ctx.args = (alpha, masked, seed, threshold, 1.0 / keep)
        return out

    @staticmethod
    def backward(ctx, grad):
        lib = library()
        q, k, v, lse = ctx.saved_tensors
        batch, heads, d, n = q.shape
        g = grad.contiguous()
        dq, dk, dv = (torch.empty_like(q) for _ in range(3))
        _check(lib.val_attention_backward(q.data_ptr(), k.data_ptr(), v.data_ptr(), *ctx.args, g.data_ptr(),
                                          lse.data_ptr(), dq.data_ptr(), dk.data_ptr(), dv.data_ptr(), batch * heads, d,
                                          n, torch.get_num_threads()))
        return dq, dk, dv, None, None, None
