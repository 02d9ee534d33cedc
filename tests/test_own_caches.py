"""The tool's own caches: a lock read once is not parsed again (keyed by the file's bytes, its folder and the
target); an interpreter or uv binary asked once is not asked again until the file changes; a script always is."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skyrl_setup import settings
from skyrl_setup.catalog.data import lockfiles_dir
from skyrl_setup.detect import memo
from skyrl_setup.detect import python as pythons
from skyrl_setup.locks import parsed
from skyrl_setup.locks import pylock as lockfile

SKYRL_ROUTE = lockfiles_dir() / "skyrl-train-0.3.0" / "pylock.sglang-skyrl-cu128.toml"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(settings, "_fixed", None)  # an earlier in-process run of main() fixed its reading
    monkeypatch.setenv("SKYRL_SETUP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "locks"


def test_fields_are_the_locked_packages():
    assert tuple(f[0] for f in parsed.FIELDS) == tuple(f.name for f in dataclasses.fields(lockfile.LockedPackage))


def test_a_second_read_is_the_first_ones_answer_without_parsing(cache, monkeypatch):
    first = lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_x86_64", "2.35")
    assert len(list(cache.glob("*.json"))) == 1
    def refuse(_text):
        raise AssertionError("the lock's TOML was parsed again")
    monkeypatch.setattr(lockfile.toml_reader, "loads", refuse)
    again = lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_x86_64", "2.35")
    assert again == first and again.tool["route"] == "skyrl" and again.sha256 == first.sha256


def test_another_target_or_other_bytes_are_read_in_full(cache, tmp_path):
    a = lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_x86_64", "2.35")
    b = lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_aarch64", "2.35")
    assert a.versions()["torch"] == b.versions()["torch"] and a.packages != b.packages  # other wheels chosen
    copy = tmp_path / "pylock.toml"
    shutil.copy(SKYRL_ROUTE, copy)
    assert lockfile.load(copy, "3.12.1", "linux_x86_64", "2.35").packages == a.packages  # the same bytes: its entry
    copy.write_text(copy.read_text().replace('requires-python = "==3.12.*"', 'requires-python = ">=3.12"', 1))
    assert lockfile.load(copy, "3.12.1", "linux_x86_64", "2.35").requires_python == ">=3.12"
    assert len(list(cache.glob("*.json"))) == 3


ROW = '["torch", "2.7.1", "https://x/t.whl", 1, "wheel", null, null]'


@pytest.mark.parametrize("damage", [
    "", "{", "[]", '{"format": 2, "packages": [["x"]], "tool": {}, "requires_python": null}',
    '{"format": 2, "packages": "x", "tool": {}, "requires_python": null}',
    '{"format": 2, "packages": [], "tool": {}}',  # no requires_python
    '{"format": 2, "packages": [["torch", "2.7.1", "https://x/t.whl", "1", "wheel", null, null]], "tool": {}, "requires_python": null}',
    '{"format": 2, "packages": [["torch", "2.7.1", "https://x/t.whl", true, "wheel", null, null]], "tool": {}, "requires_python": null}',
    '{"format": 2, "packages": [%s], "tool": [], "requires_python": null}' % ROW,
    '{"format": 2, "packages": [%s], "tool": {}, "requires_python": 3}' % ROW,
    '{"format": 999, "packages": [], "tool": {}, "requires_python": null}'])
def test_a_damaged_or_foreign_entry_is_read_past(cache, damage):
    first = lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_x86_64", "2.35")
    (entry,) = cache.glob("*.json")
    entry.write_text(damage)
    assert lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_x86_64", "2.35") == first
    assert entry.read_text() != damage  # written again


def test_a_cache_that_is_a_file_is_no_error(cache):
    cache.parent.mkdir()
    cache.write_text("not a folder")
    assert lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_x86_64", "2.35").versions()["torch"] == "2.7.1+cu128"


def test_an_invalid_lock_is_never_kept(cache, tmp_path):
    bad = tmp_path / "pylock.toml"
    bad.write_text('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "torch"\n[[packages.wheels]]\nname = "numpy-1.0-py3-none-any.whl"\n')
    for _ in range(2):
        with pytest.raises(lockfile.LockError):
            lockfile.load(bad, "3.12.1", "linux_x86_64")
    assert not cache.exists() or not list(cache.glob("*.json"))


class Asker:
    """A binary asked through the memo, as interrogate and Uv.version do: recall, else ask and remember."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), 0

    def __call__(self, kind: str, binary: str):
        entry, answer = memo.recall(kind, binary)
        if answer is None:
            self.calls += 1
            answer = self.answers.pop(0)
            memo.remember(entry, answer)
        return answer


def test_a_binary_is_asked_once_until_it_changes(cache, tmp_path):
    binary = tmp_path / "tool"
    shutil.copy("/bin/true", binary)
    ask = Asker(["1.0", "2.0"])
    assert ask("v", str(binary)) == "1.0" and ask("v", str(binary)) == "1.0" and ask.calls == 1
    st = binary.stat()
    os.utime(binary, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # upgraded in place
    assert ask("v", str(binary)) == "2.0" and ask.calls == 2


def test_a_script_and_a_failed_answer_are_asked_every_time(cache, tmp_path):
    shim = tmp_path / "python3.12"
    shim.write_text("#!/bin/sh\nexec python3 \"$@\"\n")
    shim.chmod(0o755)
    ask = Asker(["3.12.1", "3.12.9"])
    assert [ask("python", str(shim)) for _ in range(2)] == ["3.12.1", "3.12.9"]
    binary = tmp_path / "tool"
    shutil.copy("/bin/true", binary)
    ask = Asker([None, "1.0"])
    assert [ask("v", str(binary)) for _ in range(2)] == [None, "1.0"]


def test_an_interpreter_is_run_once(cache, monkeypatch):
    first = pythons.interrogate(sys.executable, "PATH")
    assert first is not None and first.version == ".".join(map(str, sys.version_info[:3]))

    def no_process(*a, **k):
        raise AssertionError("the interpreter was run again")
    monkeypatch.setattr(subprocess, "run", no_process)
    assert pythons.interrogate(sys.executable, "pyenv") == dataclasses.replace(first, source="pyenv")


def test_an_entry_another_user_could_have_written_is_not_trusted(cache):
    """Entries decide what is installed (a lock's URLs and hashes): a group- or world-writable one is read past."""
    first = lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_x86_64", "2.35")
    (entry,) = cache.glob("*.json")
    entry.write_text(entry.read_text().replace("https://download.pytorch.org/", "https://evil.example/"))
    entry.chmod(0o666)
    assert lockfile.load(SKYRL_ROUTE, "3.12.1", "linux_x86_64", "2.35") == first
    entry.chmod(0o600)
    assert "evil.example" not in entry.read_text()  # written again, by this user


def test_a_lock_with_paths_is_never_kept_and_is_read_where_it_is_found(cache, tmp_path):
    """A `path` is read relative to the lock's folder as given (two links to one file name two folders)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "pylock.toml").write_text('lock-version = "1.0"\ncreated-by = "t"\n[[packages]]\nname = "mypkg"\n'
                                        '[packages.directory]\npath = "mypkg"\n')
    seen = []
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "pylock.toml").symlink_to(shared / "pylock.toml")
        (pkg,) = lockfile.load(tmp_path / side / "pylock.toml", "3.12.1", "linux_x86_64").packages
        seen.append(pkg.url)
    assert seen == [(tmp_path / "a" / "mypkg").as_uri(), (tmp_path / "b" / "mypkg").as_uri()]
    assert not cache.exists() or not list(cache.glob("*.json"))


def test_a_cache_keeps_its_newest_entries(cache, monkeypatch):
    from skyrl_setup import cachefiles

    monkeypatch.setattr(cachefiles, "KEPT", 2)
    for i in range(4):
        cachefiles.keep(cache / f"{i}.json", "{}")
        os.utime(cache / f"{i}.json", (i, i))
    assert sorted(p.name for p in cache.glob("*.json")) == ["2.json", "3.json"]


def test_uv_is_asked_again_when_its_kept_answer_is_unreadable(cache, monkeypatch):
    from skyrl_setup.uv.backend import Uv

    uv = Uv.locate()
    version = Uv(uv.binary).version
    entry, answer = memo.recall("uv-version", uv.binary)
    assert answer == str(version) and entry is not None
    entry.write_text('{"answer": "garbage"}')
    assert Uv(uv.binary).version == version and memo.recall("uv-version", uv.binary)[1] == str(version)


def test_an_interpreter_is_asked_again_when_its_kept_answer_is_unreadable(cache):
    first = pythons.interrogate(sys.executable, "PATH")
    entry, _ = memo.recall(pythons.MEMO_KIND, sys.executable)
    entry.write_text('{"answer": [["x"], 1, "cpython"]}')
    assert pythons.interrogate(sys.executable, "PATH") == first
    assert memo.recall(pythons.MEMO_KIND, sys.executable)[1][0] == list(sys.version_info[:3])


def test_a_launcher_that_runs_another_interpreter_is_asked_every_time(cache, tmp_path):
    """mise's and pixi's launchers are compiled programs that run whichever interpreter their configuration names."""
    launcher = tmp_path / "python3.12"
    launcher.symlink_to(sys.executable)  # stands in: an ELF file whose answer names another file
    real = os.path.realpath(sys.executable)
    answer = [list(sys.version_info[:3]), "/elsewhere/bin/python3.12", "cpython"]
    assert pythons._answers_for_itself(answer, str(launcher)) is False
    assert pythons._answers_for_itself([answer[0], real, "cpython"], str(launcher)) is True
