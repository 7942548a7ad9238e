"""Which device a model trains and infers on: CUDA, then Apple's MPS, then the CPU.

Kept apart from the trainer so that configs and pages can check a device name
without importing torch (`check_device_name`); `resolve_device` imports it.
"""

from __future__ import annotations

from ae_core.errors import InputError

DEVICES = ("auto", "cpu", "cuda", "mps")


def check_device_name(name: str | None) -> str:
    """The device name as stored in a run config ('auto' for None); InputError for an unknown one.

    Whether the device exists is decided where the run trains (a Ray worker may have a GPU the server lacks).
    """
    name = "auto" if name is None else str(name).strip().lower()
    base, _, index = name.partition(":")
    if base not in DEVICES or (index and (base in ("auto", "cpu") or not index.isdigit())):
        raise InputError(f"device must be one of {', '.join(DEVICES)} (or cuda:N for the N-th GPU); got {name!r}.")
    return name


def resolve_device(name: str | None = "auto"):
    """The `torch.device` to train on: for 'auto', cuda when PyTorch sees a GPU, else mps, else cpu.

    Asking for cuda or mps where there is none is the user's mistake: an InputError that says what to do.
    """
    import torch

    name = check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
            raise InputError(f"device {name!r} was asked for, but PyTorch sees no CUDA GPU here (torch "
                             f"{torch.__version__}, {build}). Use device 'auto' or 'cpu', or train where a GPU is.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s), "
                             f"cuda:0 to cuda:{torch.cuda.device_count() - 1}.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {name!r} was asked for, but Apple's MPS is not available here. Use 'auto' or 'cpu'.")
    return dev


def native_bf16(dev) -> bool:
    """Whether `dev` computes bfloat16 matmuls natively: a CUDA GPU that supports it, or a CPU with AMX or
    AVX-512 BF16 (where oneDNN runs them 1.1-2x faster than float32; elsewhere they would be emulated)."""
    import torch

    dev = torch.device(dev)
    if dev.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return dev.type == "cpu" and bool(_cpu_flags() & {"amx_bf16", "avx512_bf16"})


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:  # not Linux: no cheap way to ask, so no bfloat16 on this CPU
        return set()


def describe_device(dev) -> str:
    """A person's name for a device: 'cpu', 'mps', or 'cuda:0 (NVIDIA H100 80GB HBM3)'."""
    import torch

    dev = torch.device(dev)
    if dev.type != "cuda":
        return dev.type
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
