"""Will a model fit: the version matrix's GPU-memory table against the GPUs found.

The table is data, cited; reading it is a pure function over (model size, GPUs):

- A level ("2× 80 GB") is met by at least that many cards with at least that much memory
  each. Smaller cards do not add up to a larger one: the table counts cards, and the
  rollout engine and the trainer each hold a model's share on every card.
- GB are decimal (10^9 bytes), as cards are sold: an "80 GB" H100 has 85.5 GB (79.6 GiB),
  a "24 GB" L4 24.2 GB; a card's memory is compared as the driver reports it.
- A size between rows takes the next larger row, after 10% of slack: model names round
  down (Qwen2.5-14B has 14.7B parameters, Llama-3-70B 70.6B, Qwen2.5-72B 72.7B), so a row
  covers sizes up to 1.1× its own. 13B takes the 14B row; 9B the 14B row; 72B the 70B row;
  1.8B the 3B row.
- Past the last row (above 77B) the 70B row's card counts are scaled by parameters / 70
  and rounded up: an extrapolation, said so in the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from skyrl_setup.detect.gpu import Gpu
from skyrl_setup.doctor import Check
from skyrl_setup.doctor.modelsize import ModelSize


@dataclass(frozen=True)
class Need:
    gpus: int
    gb: int  # per card

    def __str__(self) -> str:
        return f"{self.gpus}× {self.gb} GB"

    def to_json(self) -> dict:
        return {"gpus": self.gpus, "gb_per_gpu": self.gb, "total_gb": self.gpus * self.gb}


@dataclass(frozen=True)
class Row:
    label: str
    upto: float  # billions of parameters (the row's top, before the slack)
    minimum: Need
    recommended: Need


# SkyRL + SGLang version matrix, §4 "GPU Memory Requirements" (Model Size | Minimum VRAM | Recommended VRAM).
# "80 GB" is one card of 80 GB; "2x 80 GB" two of them.
VRAM_TABLE: tuple[Row, ...] = (
    Row("0.5B", 0.5, Need(1, 8), Need(1, 16)),
    Row("1.5B", 1.5, Need(1, 16), Need(1, 24)),
    Row("3B", 3, Need(1, 24), Need(1, 40)),
    Row("7-8B", 8, Need(1, 40), Need(1, 80)),
    Row("14B", 14, Need(1, 80), Need(2, 80)),
    Row("32B", 32, Need(2, 80), Need(4, 80)),
    Row("70B", 70, Need(4, 80), Need(8, 80)),
)
SLACK = 1.10
GB = 10**9


@dataclass(frozen=True)
class Requirement:
    row: Row | None  # None: past the table, extrapolated from its last row
    minimum: Need
    recommended: Need

    @property
    def label(self) -> str:
        return self.row.label if self.row else f"beyond {VRAM_TABLE[-1].label}"


def requirement(params: float) -> Requirement:
    for row in VRAM_TABLE:
        if params <= row.upto * SLACK:
            return Requirement(row, row.minimum, row.recommended)
    last = VRAM_TABLE[-1]
    scale = params / last.upto
    return Requirement(None, Need(math.ceil(last.minimum.gpus * scale), last.minimum.gb),
                       Need(math.ceil(last.recommended.gpus * scale), last.recommended.gb))


def cards_meeting(gpus: list[Gpu] | list[int], gb: int) -> int:
    """How many cards have at least `gb` decimal GB (Gpu values, or their byte counts)."""
    sizes = [g.memory_bytes if isinstance(g, Gpu) else g for g in gpus]
    return sum(b >= gb * GB for b in sizes)


def describe(sizes: list[int]) -> str:
    """'2× 85 GB', '1× 85 GB + 1× 25 GB', 'no GPU'."""
    if not sizes:
        return "no GPU"
    counts: dict[int, int] = {}
    for b in sizes:
        counts[b // GB] = counts.get(b // GB, 0) + 1
    return " + ".join(f"{n}× {gb} GB" for gb, n in sorted(counts.items(), reverse=True))


def largest_fitting(sizes: list[int], level: str) -> Row | None:
    ok = [r for r in VRAM_TABLE if cards_meeting(sizes, getattr(r, level).gb) >= getattr(r, level).gpus]
    return ok[-1] if ok else None


def verdict(model: ModelSize, sizes: list[int], scope: str, *, cluster: bool = False) -> dict:
    """The numbers behind the lines: what the table asks, what `scope` has, which levels are met."""
    req = requirement(model.params)
    out = {"model": model.to_json(), "row": req.label, "extrapolated": req.row is None, "scope": scope,
           "gpus": {"count": len(sizes), "memory_bytes": sizes, "total_gb": round(sum(sizes) / GB, 1)}}
    for level in ("minimum", "recommended"):
        need: Need = getattr(req, level)
        have = cards_meeting(sizes, need.gb)
        fit = largest_fitting(sizes, level)
        out[level] = {**need.to_json(), "cards_meeting": have, "met": have >= need.gpus,
                      "largest_row_met": fit.label if fit else None}
    out["cluster"] = cluster
    return out


def _pick(row: str | None) -> str:
    return f"pick ≤ {row.split('-')[-1]}" if row else "use larger cards"


def lines(v: dict) -> list[Check]:
    """One check per level: met, or what is missing and what to do."""
    notes = ["estimated from config.json"] if v["model"]["estimate"] else []
    if v["row"] != v["model"]["input"]:
        notes.append(f"table row {v['row']}" + (", extrapolated" if v["extrapolated"] else ""))
    name = f"{v['model']['params_billion']:.3g}B" if v["model"]["estimate"] else v["model"]["input"]
    label = name + (f" ({'; '.join(notes)})" if notes else "")
    where = v["scope"]
    have_txt = describe(v["gpus"]["memory_bytes"])
    out = []
    for level, noun, word, bad in (("minimum", "minimum", "at least", "error"),
                                   ("recommended", "recommendation", "recommended", "warning")):
        lv = v[level]
        need = f"{lv['gpus']}× {lv['gb_per_gpu']} GB"
        details = {"row": v["row"], "params_billion": v["model"]["params_billion"], **lv}
        cid = f"fit.{'cluster.' if v['cluster'] else ''}{level}"
        if lv["met"]:
            out.append(Check(cid, "ok", f"{label} meets the {noun} ({need}); {where} has {have_txt}",
                             details=details))
            continue
        if not v["gpus"]["count"]:
            fix = "run it on a GPU node, or check the cluster's nodes with `doctor --ray --model`"
            out.append(Check(cid, bad, f"{label} needs {need} {word}; {where} has no GPU", fix, details))
            continue
        short = lv["gpus"] - lv["cards_meeting"]
        add = f"add {short}× {lv['gb_per_gpu']} GB GPU{'s' if short > 1 else ''}"
        pick = _pick(lv["largest_row_met"])
        fix = f"{add} ({'more nodes' if v['cluster'] else 'another node; `doctor --ray --model` checks a whole cluster'}), or {pick}"
        out.append(Check(cid, bad, f"{label} needs {need} {word}; {where} has {have_txt}: {add} or {pick}", fix, details))
    return out


def check_fit(model: ModelSize, gpus: tuple[Gpu, ...]) -> list[Check]:
    return lines(verdict(model, [g.memory_bytes for g in gpus], "this node"))


def cluster_fit(model: ModelSize, node_sizes: dict[str, list[int]]) -> list[Check]:
    """The cluster as a whole: every live node's cards together."""
    sizes = [b for node in node_sizes.values() for b in node]
    return lines(verdict(model, sizes, f"the cluster ({len(node_sizes)} node{'s' if len(node_sizes) != 1 else ''})", cluster=True))
