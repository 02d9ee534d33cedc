"""An index given as a local folder (`file://`, as pip.conf and uv accept it): the tool's own reads of it.
Found in CI: a machine whose pip.conf lists `file:///opt/pypi/simple` made check-compat exit 1 with
"UnsupportedProtocol" and every route probe fail."""

from __future__ import annotations

from skyrl_setup.plan.artifacts import reachable
from skyrl_setup.resolver.index import IndexClient


def _local_index(tmp_path):
    root = tmp_path / "simple"
    (root / "tiny").mkdir(parents=True)
    wheel = tmp_path / "files" / "tiny-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"not really a wheel")
    (root / "tiny" / "index.html").write_text(f'<a href="{wheel.as_uri()}#sha256=00">tiny-1.0-py3-none-any.whl</a>\n')
    return root


def test_a_file_index_is_read_and_probed(tmp_path, monkeypatch):
    monkeypatch.setenv("SKYRL_SETUP_CACHE_DIR", str(tmp_path / "cache"))
    root = _local_index(tmp_path)
    client = IndexClient([root.as_uri()], ttl=0)
    try:
        links = client.files("tiny")
    finally:
        client.close()
    assert [link.filename for link in links] == ["tiny-1.0-py3-none-any.whl"]
    assert reachable(f"{root.as_uri()}/tiny/") is None
    assert reachable((tmp_path / "files" / "tiny-1.0-py3-none-any.whl").as_uri()) is None
    assert "no such" in reachable(f"{root.as_uri()}/absent/")
