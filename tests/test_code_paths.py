"""The static check of SkyRL's code paths (probe/code_paths_script.py) on small module trees made here,
run as install and doctor run it: a process of an interpreter whose sys.path holds them."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from skyrl_setup.probe import script

SO = EXTENSION_SUFFIXES[0]  # e.g. .cpython-312-x86_64-linux-gnu.so: only its name matters to the finder


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def check(entries: list[Path], entry: str, interface: dict | None = None) -> dict:
    req = {"entry": [entry], "follow": ["skyrl_train"], "interface": interface or {}}
    p = subprocess.run([sys.executable, "-S", script("code_paths_script"), json.dumps(req)], capture_output=True, text=True,
                       env={"PYTHONPATH": ":".join(map(str, entries))}, timeout=60)
    doc = json.loads(p.stdout)
    assert doc["status"] == "ok", doc
    return doc


def missing(doc: dict) -> list[str]:
    return [f["missing"] for f in doc["findings"]]


def test_compiled_init_and_a_module_beside_a_same_named_folder(tmp_path):
    """A package whose __init__ is compiled, and torch's layout: torch/_C/ (stubs) beside torch/_C.*.so."""
    write(tmp_path, {"extpkg/__init__" + SO: "", "torchlike/__init__.py": "", "torchlike/_C/__init__.pyi": "",
                     "torchlike/_C" + SO: "",
                     "skyrl_train/__init__.py": "",
                     "skyrl_train/a.py": "from extpkg import thing\nfrom torchlike._C import _get_tracing_state\n"})
    assert missing(check([tmp_path], "skyrl_train.a")) == []


def test_a_namespace_folder_earlier_on_the_path_does_not_hide_a_package(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    write(first, {"nspkg/readme.txt": "", "skyrl_train/__init__.py": "",
                  "skyrl_train/a.py": "from nspkg import X\nfrom nspkg import Y\n"})
    write(second, {"nspkg/__init__.py": "X = 1\n"})
    assert missing(check([first, second], "skyrl_train.a")) == ["nspkg.Y"]


def test_branches_are_alternatives(tmp_path):
    write(tmp_path, {"old.py": "X = 1\n", "new.py": "", "skyrl_train/__init__.py": "",
                     "skyrl_train/gated.py": "import sys\nif sys.version_info >= (3, 99):\n    from new import X\nelse:\n    from old import X\n",
                     "skyrl_train/both.py": "import sys\nif sys.version_info >= (3, 99):\n    from new import X\nelse:\n    from new import Z\n",
                     "skyrl_train/fallback.py": "try:\n    from new import X\nexcept ImportError:\n    from old import X\n",
                     "skyrl_train/reraise.py": "try:\n    from new import X\nexcept ImportError as e:\n    raise RuntimeError('needs X') from e\n",
                     "skyrl_train/typing_only.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from new import X\n"})
    assert missing(check([tmp_path], "skyrl_train.gated")) == []
    assert missing(check([tmp_path], "skyrl_train.both")) == ["new.X"]  # every way through fails: the first is named
    assert missing(check([tmp_path], "skyrl_train.fallback")) == []
    assert missing(check([tmp_path], "skyrl_train.reraise")) == ["new.X"]
    assert missing(check([tmp_path], "skyrl_train.typing_only")) == []


def test_interface_follows_aliased_attribute_and_reexported_bases(tmp_path):
    write(tmp_path, {"eng/__init__.py": "from eng.base import Base\n",
                     "eng/base.py": "class Root:\n    def sleep(self): pass\n\nclass Base(Root):\n    def wake_up(self): pass\n",
                     "eng/a.py": "from eng.base import Base as B\nclass Engine(B):\n    def generate(self): pass\n",
                     "eng/b.py": "import eng.base as m\nclass Engine(m.Base):\n    pass\n",
                     "eng/c.py": "from eng import Base\nclass Engine(Base):\n    pass\n",
                     "eng/d.py": "from ext import Base\nclass Engine(Base):\n    pass\n",
                     "eng/e.py": "class Engine:\n    def sleep(self): pass\n",
                     "ext" + SO: "", "skyrl_train/__init__.py": ""})
    want = ["sleep", "wake_up"]
    doc = check([tmp_path], "skyrl_train", {f"eng.{m}:Engine": want for m in "abcde"})
    status = {i["class"]: (i["status"], i["missing"]) for i in doc["interface"]}
    assert status["eng.a:Engine"] == ("ok", []) and status["eng.b:Engine"] == ("ok", []) and status["eng.c:Engine"] == ("ok", [])
    assert status["eng.d:Engine"][0] == "unknown"  # its base is compiled: never a false "missing"
    assert status["eng.e:Engine"] == ("missing", ["wake_up"])


def test_interface_follows_a_class_alias(tmp_path):
    """vLLM >= 0.1x: `from vllm.v1.engine.async_llm import AsyncLLM` then `AsyncLLMEngine = AsyncLLM`."""
    write(tmp_path, {"eng/__init__.py": "", "eng/v1.py": "class AsyncLLM:\n    async def generate(self): pass\n",
                     "eng/alias.py": "from eng.v1 import AsyncLLM\n\nAsyncLLMEngine = AsyncLLM  # type: ignore\n",
                     "eng/dotted.py": "import eng.v1 as v\nEngine = v.AsyncLLM\n",
                     "eng/local.py": "class Old:\n    pass\nEngine = Old\n",
                     "skyrl_train/__init__.py": ""})
    doc = check([tmp_path], "skyrl_train", {"eng.alias:AsyncLLMEngine": ["generate"], "eng.dotted:Engine": ["generate"],
                                             "eng.local:Engine": ["generate"]})
    status = {i["class"]: (i["status"], i["missing"]) for i in doc["interface"]}
    assert status == {"eng.alias:AsyncLLMEngine": ("ok", []), "eng.dotted:Engine": ("ok", []),
                      "eng.local:Engine": ("missing", ["generate"])}


def test_a_shared_top_level_name_is_blamed_on_the_distribution_that_installed_the_module(tmp_path):
    write(tmp_path, {"meg/__init__.py": "", "meg/core/__init__.py": "", "meg/bridge/__init__.py": "A = 1\n",
                     "meg_core-0.15.0.dist-info/top_level.txt": "meg\n",
                     "meg_core-0.15.0.dist-info/RECORD": "meg/__init__.py,,\nmeg/core/__init__.py,,\n",
                     "meg_bridge-0.2.0rc6.dist-info/top_level.txt": "meg\n",
                     "meg_bridge-0.2.0rc6.dist-info/RECORD": "meg/bridge/__init__.py,,\n",
                     "skyrl_train/__init__.py": "", "skyrl_train/w.py": "from meg.bridge import AutoBridge\n"})
    doc = check([tmp_path], "skyrl_train.w")
    assert [(f["missing"], f["owner"]) for f in doc["findings"]] == [("meg.bridge.AutoBridge", {"name": "meg-bridge", "version": "0.2.0rc6"})]
