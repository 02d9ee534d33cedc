"""CUDA variants and the driver versions they need, as data; the choice as a pure function.

Sources: NVIDIA's CUDA Toolkit release notes, table 3 ("CUDA Toolkit and Minimum Required
Driver Version for CUDA Minor Version Compatibility") and the per-release driver floors
(table 2). uv and light-the-torch use the same floors. Any 12.x runtime runs on a driver
>= 525.60.13 through minor-version compatibility, with a limited feature set: code that
JIT-compiles PTX newer than the driver then fails with CUDA_ERROR_UNSUPPORTED_PTX_VERSION.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from packaging.version import Version


@total_ordering
@dataclass(frozen=True)
class CudaVersion:
    major: int
    minor: int

    @classmethod
    def from_variant(cls, variant: str) -> CudaVersion:
        m = re.fullmatch(r"cu(\d+)(\d)", variant)
        if not m:
            raise ValueError(f"not a CUDA variant: {variant!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def from_driver_api(cls, value: int) -> CudaVersion:
        """cuDriverGetVersion's integer: 13000 is 13.0, 12080 is 12.8."""
        return cls(value // 1000, (value % 1000) // 10)

    @property
    def variant(self) -> str:
        return f"cu{self.major}{self.minor}"

    def __lt__(self, other: CudaVersion) -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


# Minimum Linux driver for each CUDA release (table 2 of the release notes).
RELEASE_DRIVER_FLOOR: dict[CudaVersion, str] = {
    CudaVersion(13, 0): "580.65.06",
    CudaVersion(12, 9): "575.51.03",
    CudaVersion(12, 8): "570.26",
    CudaVersion(12, 6): "560.28.03",
    CudaVersion(12, 5): "555.42.02",
    CudaVersion(12, 4): "550.54.14",
    CudaVersion(12, 1): "530.30.02",
    CudaVersion(12, 0): "525.60.13",
    CudaVersion(11, 8): "520.61.05",
}

# Minor-version compatibility: the oldest driver that runs any release of a major.
MINOR_COMPAT_FLOOR: dict[int, str] = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}


# The GPU architectures PyTorch's official Linux wheels are built for, per CUDA variant
# (torch.cuda.get_arch_list() of the cu126, cu128 and cu130 wheels; FACTS §4). A device runs a
# wheel's kernels when the wheel has code for its major architecture at or below its minor.
TORCH_WHEEL_ARCHES: dict[str, tuple[int, ...]] = {
    "cu126": (50, 60, 70, 80, 86, 90),
    "cu128": (70, 80, 86, 90, 100, 120),
    "cu130": (75, 80, 86, 90, 100, 110, 120),
}


# The CUDA build PyPI's own Linux x86_64 torch wheels are, per torch release (torch.__version__ after a plain
# install from PyPI; FACTS §1, §9; 2.10-2.12: the CUDA runtime `uv pip compile torch==X` picks from PyPI,
# 2026-12-04): any other build of that release comes from PyTorch's index (cuNNN).
PYPI_TORCH_VARIANT: dict[str, str] = {
    "2.7": "cu126",
    "2.8": "cu128",
    "2.9": "cu128",
    "2.10": "cu128",
    "2.11": "cu130",
    "2.12": "cu130",
    "2.13": "cu130",
}

# Where each variant's torch family is served besides PyPI: PyTorch's index, and Astral's mirror of it.
TORCH_INDEXES: dict[str, tuple[str, ...]] = {
    v: (f"https://download.pytorch.org/whl/{v}", f"https://wheels.astral.sh/simple/{v}")
    for v in ("cu126", "cu128", "cu129", "cu130")
}


def pypi_variant(torch: str) -> str | None:
    """The CUDA build of PyPI's torch of this release, where known."""
    v = Version(torch)  # major and minor: the +cuXXX label does not change them
    return PYPI_TORCH_VARIANT.get(f"{v.major}.{v.minor}")


def wheel_covers(variant: str, capability: tuple[int, int]) -> bool | None:
    """Whether the official torch wheel of `variant` has kernels for a GPU; None when unknown."""
    arches = TORCH_WHEEL_ARCHES.get(variant)
    if arches is None:
        return None
    major, minor = capability
    return any(a // 10 == major and a % 10 <= minor for a in arches)


def max_cuda_for_driver(driver: str) -> CudaVersion | None:
    """The newest CUDA release whose release floor this driver meets."""
    ok = [cv for cv, floor in RELEASE_DRIVER_FLOOR.items() if Version(driver) >= Version(floor)]
    return max(ok) if ok else None


@dataclass(frozen=True)
class VariantChoice:
    variant: str
    driver: str | None
    reason: str
    warnings: tuple[str, ...] = ()
    error: str | None = None  # set when no variant can run on this driver


def release_floor(variant: str) -> str | None:
    if variant == "cpu":
        return None
    cv = CudaVersion.from_variant(variant)
    return RELEASE_DRIVER_FLOOR.get(cv)


def choose_variant(
    supported: tuple[str, ...], driver: str | None, requested: str | None = None
) -> VariantChoice:
    """Pick the CUDA variant for a profile given the host's driver.

    `requested` is the user's explicit choice (flag or env var, already merged); "auto" or
    None means decide from the driver. Preference is the profile's order, not the newest
    variant: uv's `--torch-backend auto` takes the newest index, which on a 580 driver would
    move a torch==2.9.1 pin from cu128 to cu130.
    """
    if requested and requested != "auto":
        if requested not in supported:
            return VariantChoice(requested, driver, "requested", error=(
                f"CUDA variant {requested} is not supported by this profile (supported: {', '.join(supported)})"))
        return _judge(requested, driver, "requested explicitly")

    if driver is None:
        return VariantChoice(
            supported[0], None, f"no NVIDIA driver found; using the profile's default {supported[0]}",
            warnings=("no NVIDIA driver found: building for " + supported[0] + " (fine on a CPU host building for GPU nodes)",),
        )
    for v in supported:
        floor = release_floor(v)
        if v == "cpu" or (floor and Version(driver) >= Version(floor)):
            return VariantChoice(v, driver, f"driver {driver} meets {v}'s release floor {floor}")
    return _judge(supported[0], driver, "the profile's default")


def judge(variant: str, driver: str | None, why: str) -> VariantChoice:
    """Whether a driver runs a given variant: fully, through minor-version compatibility, or not."""
    return _judge(variant, driver, why)


def _judge(variant: str, driver: str | None, why: str) -> VariantChoice:
    if variant == "cpu" or driver is None:
        return VariantChoice(variant, driver, why)
    cv = CudaVersion.from_variant(variant)
    floor = RELEASE_DRIVER_FLOOR.get(cv)
    compat = MINOR_COMPAT_FLOOR.get(cv.major)
    d = Version(driver)
    if floor and d >= Version(floor):
        return VariantChoice(variant, driver, f"{why}; driver {driver} meets its release floor {floor}")
    if compat and d >= Version(compat):
        return VariantChoice(
            variant, driver, f"{why}; driver {driver} runs it through minor-version compatibility",
            warnings=(
                f"driver {driver} is older than CUDA {cv}'s release floor {floor}: it runs through minor-version "
                f"compatibility, but kernels JIT-compiled from newer PTX fail (CUDA error 222); upgrade the driver to >= {floor}",
            ),
        )
    return VariantChoice(variant, driver, why, error=(
        f"NVIDIA driver {driver} is too old for CUDA {cv} (needs >= {compat or floor}, {floor} for full support)"))


def driver_floor(variant: str) -> str | None:
    """The oldest driver that runs a variant at all: its major's minor-version-compatibility floor (else its
    release floor); None for cpu or a variant these tables do not know."""
    if variant == "cpu":
        return None
    cv = CudaVersion.from_variant(variant)
    return MINOR_COMPAT_FLOOR.get(cv.major) or RELEASE_DRIVER_FLOOR.get(cv)


def runs(variant: str, driver: str) -> bool:
    """Whether a driver runs a variant at all (as `judge` decides, without its warnings); an unknown floor is no refusal."""
    floor = driver_floor(variant)
    return floor is None or Version(driver) >= Version(floor)
