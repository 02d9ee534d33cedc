"""A model's parameter count, from a size (`7B`, `0.5b`, `500M`) or a Hugging Face folder's config.json.

From config.json the count is an estimate from the architecture fields (embeddings, attention
with grouped KV heads, a gated or plain MLP, MoE experts when the config has them, norms);
biases and exotic parts (MLA's low-rank projections, vision towers) are left out. Checked
against published counts: Qwen2.5-7B's config gives 7.62B (its card: 7.61B), Qwen2.5-0.5B's
0.494B (card: 0.49B). Nothing is downloaded: a hub id (`Qwen/Qwen2.5-7B`) is refused with a hint.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from skyrl_setup.errors import UsageError

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bBmM])\s*$")
# Feed-forward of two matrices (up, down) rather than three (gate, up, down).
_PLAIN_MLP = {"gpt2", "gpt_neox", "gptj", "opt", "bloom", "falcon", "phi", "starcoder2", "gpt_bigcode"}
_ALIASES = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head"),
    "vocab_size": ("vocab_size",),
}
_EXPERTS = ("num_local_experts", "num_experts", "n_routed_experts")


@dataclass(frozen=True)
class ModelSize:
    text: str  # what was given
    params: float  # parameters, in billions
    source: str  # "size" or the config.json path
    estimate: bool  # True when counted from a config's architecture
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"input": self.text, "params_billion": round(self.params, 3), "source": self.source,
                "estimate": self.estimate, **self.details}


def parse(text: str) -> ModelSize:
    """`7B` / `0.5b` / `500M`, or an existing folder with a config.json. Anything else: UsageError (exit 2)."""
    m = _SIZE_RE.match(text)
    if m:
        value = float(m.group(1)) / (1000 if m.group(2) in "mM" else 1)
        if value <= 0:
            raise UsageError(f"--model {text}: a model has more than 0 parameters", "write the size like 7B, 0.5B or 500M")
        return ModelSize(text, value, "size", False)
    path = Path(text).expanduser()
    if path.is_dir():
        return from_config(path)
    if path.is_file() and path.name == "config.json":
        return from_config(path.parent)
    hint = "write the size like 7B, 0.5B or 70B, or give a local model folder that holds config.json"
    if "/" in text and not path.exists() and (named := re.search(r"(\d+(?:\.\d+)?)[bB]\b", text)):
        hint = f"nothing is downloaded: give its size (--model {named.group(1)}B) or a local copy of the folder"
    raise UsageError(f"--model {text}: not a size (like 7B) and not a local model folder", hint)


def from_config(folder: Path) -> ModelSize:
    cfg_path = folder / "config.json"
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--model {folder}: no config.json in that folder",
                         "point --model at a Hugging Face model folder (it holds config.json), or give a size like 7B") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"--model {folder}: config.json cannot be read as JSON ({exc})", "check the file, or give a size like 7B") from None
    if not isinstance(cfg, dict):
        raise UsageError(f"--model {folder}: config.json is not a JSON object", "check the file, or give a size like 7B")
    if "hidden_size" not in cfg and isinstance(cfg.get("text_config"), dict):
        cfg = {**cfg, **cfg["text_config"]}  # multimodal configs keep the language model here
    total, active, parts = estimate(cfg, cfg_path)
    details = {"architecture": parts, "model_type": cfg.get("model_type")}
    if active != total:
        details["active_params_billion"] = round(active / 1e9, 3)
    return ModelSize(str(folder), total / 1e9, str(cfg_path), True, details)


def _field(cfg: dict, key: str):
    for alias in _ALIASES.get(key, (key,)):
        v = cfg.get(alias)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def estimate(cfg: dict, where: Path | str = "config.json") -> tuple[int, int, dict]:
    """(total parameters, parameters active per token, the fields used) from a config's architecture."""
    got = {k: _field(cfg, k) for k in _ALIASES}
    experts = next((cfg[k] for k in _EXPERTS if isinstance(cfg.get(k), int) and cfg[k] > 0), 0)
    inter = _field(cfg, "intermediate_size") or _field(cfg, "n_inner")
    moe_inter = _field(cfg, "moe_intermediate_size") or (inter if experts else None)
    if inter is None and not (experts and moe_inter):
        if cfg.get("model_type") in _PLAIN_MLP and got["hidden_size"]:
            inter = 4 * got["hidden_size"]  # GPT-2's default when n_inner is null
        else:
            got["intermediate_size"] = None
    missing = [k for k, v in got.items() if v is None]
    if missing:
        raise UsageError(f"--model: {where} lacks {', '.join(missing)}: cannot estimate the parameter count",
                         "give the size instead, like --model 7B")
    h, layers, heads, vocab = got["hidden_size"], got["num_hidden_layers"], got["num_attention_heads"], got["vocab_size"]
    kv = _field(cfg, "num_key_value_heads") or heads
    head_dim = _field(cfg, "head_dim") or h // heads
    tie = cfg.get("tie_word_embeddings", True) is not False  # transformers' default is tied
    mats = 2 if cfg.get("model_type") in _PLAIN_MLP else 3

    attention = h * heads * head_dim * 2 + h * kv * head_dim * 2  # q and o; k and v (grouped)
    dense_mlp = mats * h * (inter or 0)
    shared = (_field(cfg, "shared_expert_intermediate_size") or 0) + (_field(cfg, "n_shared_experts") or 0) * (moe_inter or 0)
    dense_layers = min(_field(cfg, "first_k_dense_replace") or 0, layers) if experts else layers
    top_k = _field(cfg, "num_experts_per_tok") or 2
    moe_total = mats * h * ((moe_inter or 0) * experts + shared) + h * experts  # experts, shared experts, router
    moe_active = mats * h * ((moe_inter or 0) * min(top_k, experts) + shared) + h * experts
    norms = 2 * h
    embed = vocab * h * (1 if tie else 2) + h  # input embedding, output head unless tied, final norm
    base = layers * (attention + norms) + dense_layers * dense_mlp + embed
    moe_layers = layers - dense_layers
    total = base + moe_layers * moe_total
    active = base + moe_layers * moe_active
    parts = {"hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
             "head_dim": head_dim, "intermediate_size": inter, "vocab_size": vocab, "tie_word_embeddings": tie,
             "mlp_matrices": mats}
    if experts:
        parts.update(experts=experts, experts_per_token=top_k, moe_intermediate_size=moe_inter, dense_layers=dense_layers)
    return total, active, parts

