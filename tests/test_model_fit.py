"""doctor --model: the version matrix's GPU-memory table against GPUs declared through the driver override.

GPUs come from the ordinary detection (SKYRL_SETUP_CUDA_DRIVER + SKYRL_SETUP_GPUS, the route
images built on GPU-less hosts use); cases are generated from the table itself. The fit itself is a pure decision
(doctor.fit_checks over doctor.modelsize): the table's rows, the sizes between them and past them, and bad sizes are
asked of it directly (`decide`); the CLI runs keep the paths a user walks (JSON, exit codes, human output, a
config folder, one refusal before any check).
"""

from __future__ import annotations

import json

import pytest

from skyrl_setup.detect.gpu import _parse_gpus_override
from skyrl_setup.doctor import fit_checks, modelsize
from skyrl_setup.doctor.fit_checks import VRAM_TABLE
from skyrl_setup.errors import UsageError
from tests.conftest import cli
from tests.test_bad_input import assert_one_line

H100 = "NVIDIA H100 80GB HBM3:79.6:9.0"  # 81,559 MiB as NVML reports it
QWEN25_7B = {"model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28, "intermediate_size": 18944,
             "vocab_size": 152064, "num_attention_heads": 28, "num_key_value_heads": 4, "tie_word_embeddings": False}
MIXTRAL_8X7B = {"model_type": "mixtral", "hidden_size": 4096, "num_hidden_layers": 32, "intermediate_size": 14336,
                "vocab_size": 32000, "num_attention_heads": 32, "num_key_value_heads": 8, "tie_word_embeddings": False,
                "num_local_experts": 8, "num_experts_per_tok": 2}


def gpus_env(env, *cards: str) -> dict:
    return dict(env, SKYRL_SETUP_CUDA_DRIVER="580.159.04", SKYRL_SETUP_GPUS=";".join(cards))


def fit(env, model: str, *cards: str):
    r = cli("doctor", "--model", model, "--no-gpu-probe", "--json", "--venv", "/nonexistent/env", env=gpus_env(env, *cards))
    doc = r.data
    return r, {c["id"]: c for c in doc["checks"] if c["id"].startswith("fit.")}, doc["model_fit"]


def decide(model: str, *cards: str) -> tuple[dict[str, dict], dict]:
    """What doctor's fit checks answer for these cards (SKYRL_SETUP_GPUS's spelling), without a doctor run: the
    checks' JSON by id, and the verdict (doctor's `model_fit`)."""
    size, gpus = modelsize.parse(model), _parse_gpus_override(";".join(cards))
    checks = {c.id: c.to_json() for c in fit_checks.check_fit(size, gpus)}
    return checks, fit_checks.verdict(size, [g.memory_bytes for g in gpus], "this node")


def card(gb: int) -> str:
    return f"Card {gb}GB:{gb * 10**9 / 2**30 + 1e-6:.6f}:9.0"  # `gb` decimal GB and about a kilobyte


def test_two_h100s_14b_and_32b(env):
    """The issue's machine: 2× H100 80 GB."""
    r, c, v = fit(env, "14B", H100, H100)
    assert c["fit.minimum"]["status"] == "ok" and c["fit.recommended"]["status"] == "ok"
    assert "14B meets the minimum (1× 80 GB); this node has 2× 85 GB" in c["fit.minimum"]["summary"]
    assert v["minimum"] == {"gpus": 1, "gb_per_gpu": 80, "total_gb": 80, "cards_meeting": 2, "met": True, "largest_row_met": "32B"}
    r, c, v = fit(env, "32B", H100, H100)
    assert c["fit.minimum"]["status"] == "ok"
    assert c["fit.recommended"]["status"] == "warning"
    assert "32B needs 4× 80 GB recommended; this node has 2× 85 GB: add 2× 80 GB GPUs or pick ≤ 14B" in c["fit.recommended"]["summary"]
    assert v["gpus"]["count"] == 2 and v["gpus"]["total_gb"] == 170.9 and v["recommended"]["met"] is False


def test_32b_on_one_card_names_what_is_missing(env):
    r, c, _ = fit(env, "32B", H100)
    assert r.returncode == 1
    assert c["fit.minimum"]["status"] == "error"
    assert c["fit.minimum"]["summary"].startswith("32B needs 2× 80 GB at least; this node has 1× 85 GB: add 1× 80 GB GPU or pick ≤ 14B")
    assert "doctor --ray --model" in c["fit.minimum"]["fix"]


@pytest.mark.parametrize("row", VRAM_TABLE, ids=[r.label for r in VRAM_TABLE])
@pytest.mark.parametrize("level", ["minimum", "recommended"])
def test_each_row_exactly_met_and_one_card_short(row, level):
    need = getattr(row, level)
    size = f"{row.upto:g}B"
    c, v = decide(size, *[card(need.gb)] * need.gpus)
    assert c[f"fit.{level}"]["status"] == "ok" and v["row"] == row.label, c
    short = [card(need.gb)] * (need.gpus - 1) + [card(need.gb - 1)]  # the last card 1 GB too small
    c, v = decide(size, *short)
    assert c[f"fit.{level}"]["status"] == ("error" if level == "minimum" else "warning"), c
    assert v[level]["cards_meeting"] == need.gpus - 1


@pytest.mark.parametrize("size,row,min_gpus", [
    ("13B", "14B", 1), ("9B", "14B", 1), ("7B", "7-8B", 1), ("8.5B", "7-8B", 1), ("1.8B", "3B", 1),
    ("72B", "70B", 4), ("0.1B", "0.5B", 1), ("500M", "0.5B", 1), ("0.5b", "0.5B", 1),
])
def test_sizes_between_rows(size, row, min_gpus):
    c, v = decide(size, H100)
    assert v["row"] == row and v["minimum"]["gpus"] == min_gpus and not v["extrapolated"]
    if row != size:
        assert f"table row {row}" in c["fit.minimum"]["summary"]


def test_past_the_table_is_extrapolated():
    c, v = decide("405B", H100, H100)
    assert v["extrapolated"] and v["minimum"]["gpus"] == 24 and v["recommended"]["gpus"] == 47
    assert "extrapolated" in c["fit.minimum"]["summary"] and c["fit.minimum"]["status"] == "error"


def test_no_gpu_is_an_error_with_a_fix(env):
    r = cli("doctor", "--model", "7B", "--no-gpu-probe", "--json", "--venv", "/nonexistent/env", env=env)
    c = {x["id"]: x for x in r.data["checks"]}
    assert c["fit.minimum"]["status"] == "error" and "has no GPU" in c["fit.minimum"]["summary"]
    assert "GPU node" in c["fit.minimum"]["fix"]


def test_config_folder_is_estimated(env, tmp_path):
    (tmp_path / "qwen").mkdir()
    (tmp_path / "qwen" / "config.json").write_text(json.dumps(QWEN25_7B))
    _, c, v = fit(env, str(tmp_path / "qwen"), H100)
    assert v["model"]["estimate"] is True and 7.5 < v["model"]["params_billion"] < 7.7  # Qwen2.5-7B's card: 7.61B
    assert v["row"] == "7-8B" and "estimated from config.json" in c["fit.minimum"]["summary"]
    human = cli("doctor", "--model", str(tmp_path / "qwen"), "--no-gpu-probe", "--venv", "/none", env=gpus_env(env, H100))
    assert "7.62B (estimated from config.json; table row 7-8B) meets the minimum" in human.stderr


def test_moe_config_counts_every_expert(env, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(MIXTRAL_8X7B))
    _, c, v = fit(env, str(tmp_path), H100, H100)
    assert 46 < v["model"]["params_billion"] < 47.5 and 12 < v["model"]["active_params_billion"] < 13.5
    assert v["row"] == "70B"  # memory holds all experts: 46.7B takes the 70B row, not the 13B active size's


@pytest.mark.parametrize("make,text", [
    (lambda d: "7Q", "not a size"),
    (lambda d: str(d), "no config.json"),
    (lambda d: (d / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 4096})) and str(d),
     "lacks num_hidden_layers, num_attention_heads, vocab_size"),
    (lambda d: (d / "config.json").write_text("{not json") and str(d), "cannot be read as JSON"),
    (lambda d: "0B", "more than 0 parameters"),
    (lambda d: "Qwen/Qwen2.5-7B", "not a size"),
])
def test_bad_model_input_is_refused_naming_why(tmp_path, make, text):
    with pytest.raises(UsageError) as e:
        modelsize.parse(make(tmp_path))
    assert text in e.value.message and e.value.hint and e.value.code == 2


def test_bad_model_input_is_one_line_exit_2(env, tmp_path):
    r = cli("doctor", "--model", "7Q", "--no-gpu-probe", env=env)
    assert_one_line(r, 2)
    assert "not a size" in r.stderr
    assert "Model fit" not in r.stderr  # refused before any check ran
