"""A heap overrun in PyTorch's oneDNN (mkldnn) convolution backward on CPU, in plain PyTorch,
for an upstream report.

What it shows: the backward of a 1x1 ``nn.Conv2d(5, 5, kernel_size=1, stride=3,
bias=False)`` on a channels-last CPU input of shape (2, 5, 15, 36), run on one thread by
oneDNN's AVX2 kernels, aborts the process with heap corruption (exit status 134, SIGABRT, or
139, SIGSEGV). Seen with torch 2.14.1+cu130 (oneDNN v3.12.0). Under valgrind memcheck (one
thread; valgrind shows oneDNN an AVX2 CPU) the culprit is
``jit_avx2_1x1_convolution_bwd_weights_t``: it writes 12 bytes past the end of a 1,328-byte
buffer allocated in ``mkldnn_convolution_backward_weights``, and valgrind's own heap then
fails its checks. The same computation completes under
``torch.backends.mkldnn.flags(enabled=False)`` (torch's native kernels), with a contiguous
input, with two threads, or with oneDNN's AVX-512 kernels. An AVX2-only CPU picks those
kernels by itself; on a newer one ``ONEDNN_MAX_CPU_ISA=AVX2`` does, and the script sets it.

convzoo met it through a valid spec -- ``unfold_conv`` then a ``projection`` bypass whose
shortcut is that strided 1x1 convolution -- because ``unfold_conv`` handed on its
channels-last matrix-product output; it now returns a contiguous tensor, and
``tests/blocks/test_unfold_conv.py`` keeps the spec as a regression test.

Each case runs in a child process, so a crash is reported rather than suffered:

    .venv/bin/python benchmarks/mkldnn_crash.py [--repeat N]

What it printed is at the end of this file.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys

import torch

SHAPE = (2, 5, 15, 36)
CHILD = f"""
import sys
import torch

torch.manual_seed(0)
conv = torch.nn.Conv2d(5, 5, kernel_size=1, stride=3, bias=False)
x = torch.randn{SHAPE}
if sys.argv[1] == "channels_last":
    x = x.contiguous(memory_format=torch.channels_last)
x.requires_grad_()
with torch.backends.mkldnn.flags(enabled=sys.argv[2] == "on"):
    conv(x).sum().backward()
print("finite" if torch.isfinite(x.grad).all() else "NOT FINITE")
"""
CASES = [  # (input layout, oneDNN's instruction set, oneDNN on/off); the first is the crash
    ("channels_last", "AVX2", "on"),
    ("channels_last", "AVX2", "off"),
    ("contiguous", "AVX2", "on"),
    ("channels_last", "native", "on"),
    ("channels_last", "native", "off"),
]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def outcome(layout: str, isa: str, mkldnn: str) -> str:
    """Run the backward once in a child process on one thread; say how it ended."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa != "native":
        env["ONEDNN_MAX_CPU_ISA"] = isa
    result = subprocess.run(
        [sys.executable, "-c", CHILD, layout, mkldnn],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        said = (result.stderr.strip().splitlines() or [""])[-1][:120]  # glibc's last word
        return f"CRASHED ({name}, exit status {128 - result.returncode} in a shell): {said}"
    if result.returncode:
        return f"FAILED (exit status {result.returncode}): {result.stderr.strip()[-300:]}"
    return f"completed (gradient {result.stdout.strip()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (default 1)")
    repeat = parser.parse_args().repeat
    onednn = re.search(r"MKL-DNN (v[\w.]+)", torch.__config__.show())
    print(f"machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs")
    print(
        f"torch {torch.__version__}, oneDNN {onednn[1] if onednn else '?'}, "
        f"torch's CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    print(f"Conv2d(5, 5, 1, stride=3) backward on an input of shape {SHAPE}, one thread:")
    for layout, isa, mkldnn in CASES:
        for _ in range(repeat):
            case = f"{layout:13} input, oneDNN {mkldnn:3} (ISA {isa:6})"
            print(f"  {case}: {outcome(layout, isa, mkldnn)}", flush=True)


if __name__ == "__main__":
    main()


# What it printed on a 2-core Intel Xeon (AVX-512 and AMX), Linux 6.18, glibc 2.36, Python
# 3.11.7 (the crash's line wrapped here; over runs it is SIGABRT or SIGSEGV, and glibc's words
# vary, e.g. "double free or corruption (!prev)"):
#
# machine: Linux-6.18.44-fc-v657-x86_64-with-glibc2.36, Intel(R) Xeon(R) Processor, 2 CPUs
# torch 2.14.1+cu130, oneDNN v3.12.0, torch's CPU capability AVX512
# Conv2d(5, 5, 1, stride=3) backward on an input of shape (2, 5, 15, 36), one thread:
#   channels_last input, oneDNN on  (ISA AVX2  ): CRASHED (SIGABRT, exit status 134 in a shell):
#     double free or corruption (!prev)
#   channels_last input, oneDNN off (ISA AVX2  ): completed (gradient finite)
#   contiguous    input, oneDNN on  (ISA AVX2  ): completed (gradient finite)
#   channels_last input, oneDNN on  (ISA native): completed (gradient finite)
#   channels_last input, oneDNN off (ISA native): completed (gradient finite)
