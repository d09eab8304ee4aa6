# SPDX-License-Identifier: Apache-2.0
"""Build of losses_ext._C: the C++ ops and CPU kernels (and, when enabled, the CUDA kernels).

The CPU chunk kernels are compiled once per instruction set (csrc/cpu/core_<capability>.cpp,
each with its own -m flags) and linked into one library that picks the best set at run time, so
one build runs on any x86-64 CPU. Nothing is built with -march=native.

The CUDA kernels (csrc/cuda/*.cu) are built when torch is a CUDA build and the CUDA toolkit is
found (CUDA_HOME, else torch's guess), whether or not a GPU is present. TORCH_CUDA_ARCH_LIST
defaults to "8.0;9.0" (A100, H100/H200).

Environment switches:
  LOSSES_EXT_DEBUG=1     build with -O0 -g instead of -O3.
  LOSSES_EXT_CUDA=0      do not build the CUDA kernels.
  LOSSES_EXT_SANITIZE=1  build the C++ code with AddressSanitizer and UndefinedBehaviorSanitizer
                         (implies LOSSES_EXT_CUDA=0; use a separate --build-base, and load the
                         sanitizer runtimes with LD_PRELOAD, as `make sanitize` does).
"""

import os
import platform

import torch
from setuptools import find_packages, setup
from torch.utils import cpp_extension
from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension

ROOT = os.path.dirname(os.path.abspath(__file__))
IS_X86 = platform.machine().lower() in ("x86_64", "amd64")

# Per-capability sources and their instruction-set flags (the same sets ATen uses for its own
# AVX2 and AVX-512 kernels).
CAPABILITY_SOURCES = {
    "csrc/cpu/core_avx2.cpp": ["-mavx2", "-mfma", "-mf16c", "-mbmi", "-mbmi2"],
    "csrc/cpu/core_avx512.cpp": [
        "-mavx512f",
        "-mavx512bw",
        "-mavx512vl",
        "-mavx512dq",
        "-mavx2",
        "-mfma",
        "-mf16c",
    ],
}


SANITIZE = os.environ.get("LOSSES_EXT_SANITIZE") == "1"
SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]


def cxx_flags():
    opt = ["-O0", "-g"] if os.environ.get("LOSSES_EXT_DEBUG") == "1" else ["-O3"]
    if SANITIZE:
        opt = ["-O1", "-g", "-fno-omit-frame-pointer"] + SANITIZER_FLAGS
    # -fopenmp: at::parallel_for is inline and uses OpenMP pragmas in our own code; without the
    # flag it silently runs on one thread. The runtime is the libgomp that torch loads.
    flags = opt + ["-std=c++20", "-fvisibility=hidden", "-fopenmp"]
    # Silence what torch's own headers trigger: '#pragma unroll' meant for other compilers,
    # GCC's note on a vector ABI change of GCC 4.6, and GCC 12's false '(may be) used
    # uninitialized' inside avx512fintrin.h.
    flags += [
        "-Wno-unknown-pragmas",
        "-Wno-psabi",
        "-Wno-maybe-uninitialized",
        "-Wno-uninitialized",
    ]
    if IS_X86:
        flags.append("-DLOSSES_EXT_X86_CAPABILITIES")
    return flags


class BuildWithCapabilities(BuildExtension):
    """Compiles each capability source with its flags, then builds the rest as usual."""

    def build_extension(self, ext):
        extra_objects = []
        for source, isa_flags in CAPABILITY_SOURCES.items():
            if source not in getattr(ext, "capability_sources", ()):
                continue
            post = dict(ext.extra_compile_args)
            post["cxx"] = list(post["cxx"]) + isa_flags
            extra_objects += self.compiler.compile(
                [source],
                output_dir=self.build_temp,
                macros=ext.define_macros,
                include_dirs=ext.include_dirs,
                debug=self.debug,
                extra_postargs=post,
                depends=ext.depends,
            )
        ext.extra_objects = list(ext.extra_objects or []) + extra_objects
        super().build_extension(ext)


def _has_cuda_headers(home):
    return home is not None and os.path.exists(os.path.join(home, "include", "cuda_runtime.h"))


def cuda_enabled():
    if os.environ.get("LOSSES_EXT_CUDA", "1") == "0" or SANITIZE or torch.version.cuda is None:
        return False
    # torch guesses CUDA_HOME from the nvcc on PATH; a wrapper outside the toolkit (such as
    # /usr/local/bin/nvcc) makes it guess a folder without headers. Fall back to the usual path.
    if not _has_cuda_headers(cpp_extension.CUDA_HOME) and _has_cuda_headers("/usr/local/cuda"):
        cpp_extension.CUDA_HOME = "/usr/local/cuda"
    if not _has_cuda_headers(cpp_extension.CUDA_HOME):
        print("losses_ext: no CUDA toolkit found, building without the CUDA kernels")
        return False
    return True


def nvcc_flags():
    opt = ["-O0", "-g", "-G"] if os.environ.get("LOSSES_EXT_DEBUG") == "1" else ["-O3"]
    return opt + ["-std=c++20", "-lineinfo", "-Xcompiler", "-fvisibility=hidden"]


def extension():
    sources = [
        "csrc/ops.cpp",
        "csrc/module.cpp",
        "csrc/cpu/cpu_capability.cpp",
        "csrc/cpu/elementwise.cpp",
        "csrc/cpu/cross_entropy.cpp",
        "csrc/cpu/core_default.cpp",
    ]
    kind, compile_args = CppExtension, {"cxx": cxx_flags()}
    if cuda_enabled():
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0")
        sources += ["csrc/cuda/elementwise.cu", "csrc/cuda/cross_entropy.cu"]
        kind, compile_args = CUDAExtension, {"cxx": cxx_flags(), "nvcc": nvcc_flags()}
    ext = kind(
        "losses_ext._C",
        sources,
        extra_compile_args=compile_args,
        extra_link_args=["-fopenmp"] + (SANITIZER_FLAGS if SANITIZE else []),
        depends=[
            os.path.join("csrc", f) for f in ("loss_math.h", "reduction.h", "elementwise_ops.h")
        ]
        + [
            os.path.join("csrc/cpu", f)
            for f in os.listdir(os.path.join(ROOT, "csrc/cpu"))
            if f.endswith(".h")
        ],
    )
    ext.capability_sources = list(CAPABILITY_SOURCES) if IS_X86 else []
    return ext


setup(
    name="losses_ext",
    version="0.1.0",
    description="Fused loss functions for PyTorch: loss and gradient in one pass",
    packages=find_packages(include=["losses_ext", "losses_ext.*"]),
    package_data={"losses_ext": ["py.typed"]},
    ext_modules=[extension()],
    cmdclass={"build_ext": BuildWithCapabilities},
    python_requires=">=3.10",
    install_requires=["torch>=2.4"],
)
