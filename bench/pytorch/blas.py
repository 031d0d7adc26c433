"""Which BLAS did torch really load? check_blas() refuses the reference (netlib) BLAS."""

import ctypes
import os
import re
import sys

from .log import warn


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


_BLAS_RE = re.compile(r"^lib(open)?blas|^libcblas|^libmkl|^libblis|^libatlas|^libsatlas|^libtatlas|^libflexiblas",
                      re.IGNORECASE)


def _mapped_objects():
    """Paths of the files mapped into this process, in first-mapped order."""
    seen, out = set(), []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                path = parts[5].strip()
                if path.endswith(" (deleted)"):
                    path = path[: -len(" (deleted)")]
                if path not in seen:
                    seen.add(path)
                    out.append(path)
    return out


def _symbol_provider(handle_path, symbol):
    """The file that defines `symbol` as the dynamic linker resolves it from handle_path's scope
    (None: the global scope), or None when it cannot tell."""
    try:
        if handle_path is None:
            lib = ctypes.CDLL(None)
        else:  # already loaded by torch: RTLD_NOLOAD returns its handle and loads nothing new
            lib = ctypes.CDLL(handle_path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        addr = ctypes.cast(getattr(lib, symbol), ctypes.c_void_p).value
        info = _DlInfo()
        if not ctypes.CDLL(None).dladdr(ctypes.c_void_p(addr), ctypes.byref(info)) or not info.dli_fname:
            return None
        return os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError, ValueError):
        return None


def check_blas(torch):
    """Run a matmul in torch, then find the BLAS it loaded (and the one that serves sgemm_).
    Returns a dict; exits with status 2 when it is not OpenBLAS."""
    a = torch.randn(256, 256)
    (a @ a).sum().item()
    mapped = _mapped_objects()
    blas = [os.path.realpath(p) for p in mapped if _BLAS_RE.search(os.path.basename(p))]
    blas = list(dict.fromkeys(blas))
    # torch's libtorch_cpu needs libblas.so.3 and calls sgemm_; the dynamic linker resolves that in
    # the global scope first, then in libtorch_cpu's own dependency tree. Ask it the same way.
    provider = _symbol_provider(None, "sgemm_")
    if provider is None:
        torch_cpu = next((p for p in mapped if os.path.basename(p).startswith("libtorch_cpu.so")), None)
        if torch_cpu:
            provider = _symbol_provider(torch_cpu, "sgemm_")
    if provider is None:  # could not ask the linker: the first BLAS object mapped
        provider = blas[0] if blas else None
    info = {"objects": blas, "path": provider, "config": None}
    is_openblas = provider is not None and "openblas" in provider.lower()
    if is_openblas:
        try:
            lib = ctypes.CDLL(provider, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
            lib.openblas_get_config.restype = ctypes.c_char_p
            info["config"] = lib.openblas_get_config().decode()
        except (OSError, AttributeError):
            pass
    if not is_openblas:
        print("error: torch is not using OpenBLAS, so it would be compared on the slow reference BLAS.",
              file=sys.stderr)
        print(f"  sgemm_ comes from: {provider or 'no BLAS library found in /proc/self/maps'}", file=sys.stderr)
        for p in blas:
            print(f"  mapped BLAS object: {p}", file=sys.stderr)
        print("  Install OpenBLAS for Debian's torch (it is picked up through the libblas.so.3 alternative):\n"
              "    sudo apt-get install libopenblas0-openmp\n"
              "  and check that `update-alternatives --display libblas.so.3-x86_64-linux-gnu` points at\n"
              "  /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 (and that LD_LIBRARY_PATH does not\n"
              "  put another libblas.so.3 first).", file=sys.stderr)
        sys.exit(2)
    if "pthread" in provider.lower():
        warn("OpenBLAS is the pthreads build; with torch's OpenMP threads the two thread pools can "
             "oversubscribe the cores. libopenblas0-openmp is the one to compare with.")
    return info
