"""Package roles are data (package-roles.toml): an entry added there reaches the resolver, upgrade, doctor and the
summaries; the default backend is written once (issue 26)."""

from __future__ import annotations

import ast
import dataclasses
import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from skyrl_setup import settings
from skyrl_setup.catalog import DEFAULT_BACKEND, profiles
from skyrl_setup.catalog.roles import ROLES, PackageRolesError, load, package_roles
from skyrl_setup.doctor import fatbin

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "package-roles.toml"


def with_entries(text: str, **added: str) -> str:
    """The shipped file with `role="name"` entries added at the top of their tables."""
    for role, name in added.items():
        text = text.replace(f"[{role}]\n", f'[{role}]\n{name} = "added by the test"\n', 1)
    return text


@pytest.fixture
def fork(tmp_path, monkeypatch):
    """A SKYRL_SETUP_DATA_DIR holding the real profiles and releases; the test writes its package-roles.toml."""
    d = tmp_path / "data"
    for sub in ("profiles", "releases"):
        shutil.copytree(REPO / sub, d / sub)
    (d / "lockfiles").mkdir()
    monkeypatch.setattr(settings, "_fixed", None)
    monkeypatch.setenv("SKYRL_SETUP_DATA_DIR", str(d))
    return d


def test_the_shipped_roles_are_the_tables_they_replace():
    r = load(SHIPPED)
    assert {"torch", "triton", "sglang", "vllm", "flash-attn", "megatron-core"} <= r.torch_relevant
    assert {"ray", "transformers", "skyrl-train"} <= r.not_torch_relevant
    assert r.check_env_modules == ("torch", "sglang", "vllm", "flashinfer", "ray", "transformers")
    assert r.engine_kernels[:2] == ("sgl-kernel", "flashinfer-jit-cache") and "transformer-engine-cu12" in r.engine_kernels
    assert r.summary == ("torch", "sglang", "vllm", "flashinfer-python", "sgl-kernel", "triton")
    assert r.drift[:3] == ("torch", "sglang", "vllm") and r.drift[-3:] == ("skyrl-train", "skyrl", "skyrl-gym")


def test_a_data_dir_without_the_file_reads_the_tools_own(fork):
    assert package_roles() == load(SHIPPED)


def test_a_torch_relevant_package_added_in_data_is_resolved_and_unpinned_by_latest(fork):
    from skyrl_setup.plan.upgrade import effective_profile
    from skyrl_setup.resolver.check import relevant_names

    (fork / "package-roles.toml").write_text(with_entries(SHIPPED.read_text(), torch_relevant="my-engine",
                                                          not_torch_relevant="my-loader"))
    roots = [Requirement("My_Engine==1.0"), Requirement("my-loader==2.0"), Requirement("other==3.0")]
    relevant = relevant_names(roots)
    assert {"my-engine", "other", "torch"} <= relevant and "my-loader" not in relevant
    profile = profiles.load("sglang")
    pinned = dataclasses.replace(profile, packages={**profile.packages, "my-engine": "==1.0"})
    moved, _ = effective_profile(pinned, [], latest=True)
    assert moved.packages["my-engine"] == ""  # --latest frees it, as it frees torch's family
    assert effective_profile(pinned, [], latest=False)[0].packages["my-engine"] == "==1.0"


def test_doctor_scans_a_kernel_added_in_data_and_imports_a_check_env_module_added_there(fork, tmp_path):
    from skyrl_setup.doctor.symptom_checks import check_env_modules, kernel_arches

    site = tmp_path / "env" / "lib" / "python3.12" / "site-packages"
    info = site / "my_kernel-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-kernel\nVersion: 1.0\n\n")
    (info / "RECORD").write_text("my_kernel/ops.so,,\n")
    (site / "my_kernel").mkdir()
    (site / "my_kernel" / "ops.so").write_bytes(b"\x7fELF" + fatbin.container([(2, 100)]))
    facts = {"prefix": str(tmp_path / "env"), "distributions": {"my-kernel": {"version": "1.0", "requires": []}}}
    assert kernel_arches(facts) == {}  # not an engine kernel yet
    (fork / "package-roles.toml").write_text(with_entries(SHIPPED.read_text(), engine_kernels="my-kernel",
                                                          check_env_modules="my_module"))
    found = kernel_arches(facts)
    assert found["my-kernel"]["arches"].names() == ["sm_100"] and found["my-kernel"]["files"] == 1
    profile = profiles.load("sglang")
    assert "my_module" not in check_env_modules(profile)  # the profile decides what it verifies
    verifying = dataclasses.replace(profile, modules=(*profile.modules, "my_module"))
    assert check_env_modules(verifying)[0] == "my_module"


def test_the_summaries_follow_the_data(fork):
    from skyrl_setup.commands.cluster import doctor_facts

    data = {"environment": {"packages": {"torch": "2.9.1", "my-lib": "1.0"}}}
    assert "pkg:my-lib" not in doctor_facts(data)
    (fork / "package-roles.toml").write_text(with_entries(SHIPPED.read_text(), drift="my-lib"))
    assert doctor_facts(data)["pkg:my-lib"] == "1.0" and doctor_facts(data)["pkg:torch"] == "2.9.1"


@pytest.mark.parametrize(("text", "says"), [
    ("[torch_relevant]\ntorch = 'x'\n", "key 'not_torch_relevant': missing"),
    (with_entries(SHIPPED.read_text(), not_torch_relevant="torch"), "key 'not_torch_relevant.torch': also listed under [torch_relevant]"),
    (SHIPPED.read_text().replace('sgl-kernel = "sglang\'s compiled kernels"', 'sgl-kernel = " "', 1), "key 'summary.sgl-kernel': give the reason"),
    (SHIPPED.read_text() + "\n[favourites]\ntorch = 'x'\n", "key 'favourites': not a role"),
    (SHIPPED.read_text().replace('triton = "the GPU compiler torch pins"', "triton = 3", 1), "key 'summary.triton': expected a string"),
    ("torch_relevant = [", "not valid TOML"),
])
def test_a_broken_roles_file_is_one_line_naming_the_key(tmp_path, text, says):
    path = tmp_path / "package-roles.toml"
    path.write_text(text)
    with pytest.raises(PackageRolesError) as exc:
        load(path)
    assert str(path) in str(exc.value) and says in str(exc.value), str(exc.value)


def test_every_role_is_in_the_shipped_file_and_ships_with_the_wheel():
    text = SHIPPED.read_text()
    assert all(f"[{role}]\n" in text for role in ROLES)
    assert '"package-roles.toml" = "skyrl_setup/_data/package-roles.toml"' in (REPO / "pyproject.toml").read_text()


def test_a_docker_contexts_wheel_carries_the_roles_this_host_judges_by(fork):
    """The image's skyrl-setup reads its own _data: without the file there, its doctor and upgrade --latest would stop."""
    from skyrl_setup.build.toolwheel import data_files

    assert data_files()["skyrl_setup/_data/package-roles.toml"] == SHIPPED  # a fork without the file: the tool's own
    (fork / "package-roles.toml").write_text(with_entries(SHIPPED.read_text(), drift="my-lib"))
    assert data_files()["skyrl_setup/_data/package-roles.toml"] == fork / "package-roles.toml"


def test_the_default_backend_is_written_once():
    """`"sglang"` as a value appears once in the package (probe scripts name the module they import)."""
    root = REPO / "skyrl_setup"
    written = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*.py")) if "probe" not in p.parts
               for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.Constant) and n.value == DEFAULT_BACKEND]
    assert written == ["catalog/__init__.py"], written
