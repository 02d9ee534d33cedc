"""SkyRL-shaped code for the test stack: skyrl-train's modules along the paths skyrl-setup checks,
with the same module-level imports as skyrl-train 0.3.1 makes there (trimmed to those), and the
engines' modules those imports name. Used by the fake wheels and by the synthetic SkyRL checkout.
"""

from __future__ import annotations

SKYRL_TRAIN = {
    "skyrl_train/__init__.py": "",
    "skyrl_train/entrypoints/__init__.py": "",
    "skyrl_train/entrypoints/main_base.py": (
        "import ray\nfrom transformers import AutoTokenizer\nfrom skyrl_gym.metrics import aggregate\n"
        "from skyrl_train.trainer import RayPPOTrainer\nfrom skyrl_train.generators.skyrl_gym_generator import SkyRLGymGenerator\n"),
    "skyrl_train/trainer.py": "from skyrl_gym.metrics import aggregate\n\nclass RayPPOTrainer:\n    pass\n",
    "skyrl_train/generators/__init__.py": "",
    "skyrl_train/generators/skyrl_gym_generator.py": "import skyrl_gym\nfrom skyrl_gym.metrics import aggregate\n\nclass SkyRLGymGenerator:\n    pass\n",
    "skyrl_train/model_wrapper.py": "from flash_attn.bert_padding import pad_input, unpad_input\n\nclass HFModelWrapper:\n    pass\n",
    "skyrl_train/workers/__init__.py": "",
    "skyrl_train/workers/fsdp/__init__.py": "",
    "skyrl_train/workers/fsdp/fsdp_worker.py": "import torch\nfrom skyrl_train.model_wrapper import HFModelWrapper\n",
    "skyrl_train/workers/megatron/__init__.py": "",
    "skyrl_train/workers/megatron/megatron_worker.py": "import megatron.core\nfrom megatron.bridge import AutoBridge\n",
    "skyrl_train/inference_engines/__init__.py": "",
    "skyrl_train/inference_engines/sglang/__init__.py": "",
    "skyrl_train/inference_engines/sglang/sglang_engine.py": (
        "from sglang.srt.entrypoints.engine import Engine\n"
        "from sglang.srt.utils import get_ip, maybe_set_triton_cache_manager\n"
        "from sglang.srt.managers.tokenizer_manager import (\n"
        "    UpdateWeightsFromTensorReqInput,\n    UpdateWeightsFromDistributedReqInput,\n"
        "    InitWeightsUpdateGroupReqInput,\n    ReleaseMemoryOccupationReqInput,\n    ResumeMemoryOccupationReqInput,\n)\n"),
    "skyrl_train/inference_engines/vllm/__init__.py": "",
    "skyrl_train/inference_engines/vllm/vllm_engine.py": "import vllm\nfrom vllm import SamplingParams\n",
}

SKYRL_GYM_METRICS = {"skyrl_gym/metrics.py": "def aggregate(values):\n    return sum(values)\n"}

_RL = ("update_weights_from_tensor", "update_weights_from_distributed", "init_weights_update_group",
       "release_memory_occupation", "resume_memory_occupation")
_REQS = ("UpdateWeightsFromTensorReqInput", "UpdateWeightsFromDistributedReqInput", "InitWeightsUpdateGroupReqInput",
         "ReleaseMemoryOccupationReqInput", "ResumeMemoryOccupationReqInput")


def sglang_files(*, adapter_names: bool = True, without: str = "") -> dict[str, str]:
    """sglang's modules that SkyRL's adapter imports from. sglang 0.4.8.post1 has the names SkyRL
    needs; 0.5.x moved maybe_set_triton_cache_manager and the request classes away."""
    utils = "def get_ip():\n    return '127.0.0.1'\n"
    if adapter_names and without != "maybe_set_triton_cache_manager":
        utils += "def maybe_set_triton_cache_manager():\n    pass\n"
    manager = "".join(f"class {c}:\n    pass\n" for c in _REQS if adapter_names and c != without)
    engine = "class Engine:\n" + "".join(f"    def {m}(self, *a, **kw):\n        pass\n" for m in _RL if m != without)
    return {"sglang/srt/__init__.py": "", "sglang/srt/utils.py": utils, "sglang/srt/managers/__init__.py": "",
            "sglang/srt/managers/tokenizer_manager.py": manager or "pass\n",
            "sglang/srt/entrypoints/__init__.py": "", "sglang/srt/entrypoints/engine.py": engine}


VLLM_FILES = {
    "vllm/entrypoints/__init__.py": "",
    "vllm/entrypoints/llm.py": "class LLM:\n" + "".join(f"    def {m}(self, *a, **kw):\n        pass\n" for m in (
        "generate", "sleep", "wake_up", "collective_rpc", "reset_prefix_cache")),
    "vllm/v1/__init__.py": "", "vllm/v1/engine/__init__.py": "",
    "vllm/v1/engine/async_llm.py": "class AsyncLLM:\n" + "".join(f"    async def {m}(self, *a, **kw):\n        pass\n" for m in (
        "generate", "abort", "sleep", "wake_up", "collective_rpc", "reset_prefix_cache")),
}
VLLM_CODE = "class SamplingParams:\n    pass\n"
FLASH_ATTN_FILES = {"flash_attn/bert_padding.py": "def pad_input(*a):\n    pass\n\ndef unpad_input(*a):\n    pass\n"}
MEGATRON_BRIDGE_FILES = {"megatron/bridge/__init__.py": "class AutoBridge:\n    pass\n"}
