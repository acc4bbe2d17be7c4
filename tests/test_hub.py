"""textgan.hub against a real HTTP server on 127.0.0.1 standing in for the Hugging Face Hub (tests/hub_server.py).

Nothing of huggingface_hub is mocked: every download and upload goes through its HTTP client to the loopback
server, and the cache is a real one in tmp_path.
"""
import hashlib
import json
import os
import socket
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

import textgan
from textgan.errors import CheckpointError, PretrainedNotFoundError, UnknownModelError
from textgan.hub import download_url, push_to_hub, resolve_pretrained_dir

REPO = "org/tiny-gan"


def _weights(value: float) -> bytes:
    return save_safetensors({"w": torch.full((2, 3), value), "b": torch.arange(4, dtype=torch.float32)})


def _pipeline(value: float = 1.0, files=("model.safetensors", "vocab.json")) -> dict:
    """The files of a small pretrained directory, as {name: bytes}."""
    content = {
        "model.safetensors": _weights(value),
        "vocab.json": json.dumps({"<pad>": 0, "bird": 1, f"v{value}": 2}).encode(),
        "README.md": b"# tiny\n",
    }
    out = {name: content[name] for name in files}
    out["config.json"] = json.dumps({"family": "tiny", "files": list(files)}).encode()
    return out


def _assert_dir_holds(path: Path, files: dict) -> None:
    for name, data in files.items():
        assert (path / name).read_bytes() == data, name


def _leftovers(cache: Path):
    """Partial downloads anywhere in the cache."""
    return [p for p in cache.rglob("*") if p.name.endswith((".incomplete", ".part"))]


# ---------------------------------------------------------------------------------------------- download


def test_download_small_repo(fake_hub, tmp_path):
    files = _pipeline()
    sha = fake_hub.add_commit(REPO, files)

    path = resolve_pretrained_dir(f"hf-hub:{REPO}")

    assert path.name == sha and path.parent.name == "snapshots"
    assert path.is_relative_to(tmp_path / "hf-cache")  # HF_HUB_CACHE set after import is honoured
    _assert_dir_holds(path, files)
    assert torch.equal(load_safetensors((path / "model.safetensors").read_bytes())["w"], torch.ones(2, 3))
    assert not (path / "README.md").exists()  # not listed in config.json, not downloaded
    # A second call is answered from the cache (metadata requests only, no file body again).
    n = len(fake_hub.requests)
    assert resolve_pretrained_dir(f"hf-hub:{REPO}") == path
    assert all(r.method == "HEAD" for r in fake_hub.requests[n:])


def test_cache_dir_argument(fake_hub, tmp_path):
    fake_hub.add_commit(REPO, _pipeline())
    path = resolve_pretrained_dir(f"hf-hub:{REPO}", cache_dir=tmp_path / "elsewhere")
    assert path.is_relative_to(tmp_path / "elsewhere")


def test_revision_pinning_branch_tag_and_sha(fake_hub):
    old, new = _pipeline(1.0), _pipeline(2.0)
    old_sha = fake_hub.add_commit(REPO, old)
    fake_hub.create_tag(REPO, "v1", old_sha)
    new_sha = fake_hub.add_commit(REPO, new)
    fake_hub.add_commit(REPO, _pipeline(3.0), branch="dev")

    assert resolve_pretrained_dir(f"hf-hub:{REPO}").name == new_sha
    _assert_dir_holds(resolve_pretrained_dir(f"hf-hub:{REPO}"), new)
    for revision in (old_sha, "v1", old_sha[:10]):
        path = resolve_pretrained_dir(f"hf-hub:{REPO}", revision=revision)
        assert path.name == old_sha, revision
        _assert_dir_holds(path, old)
    dev = resolve_pretrained_dir(f"hf-hub:{REPO}", revision="dev")
    assert torch.equal(load_safetensors((dev / "model.safetensors").read_bytes())["w"], torch.full((2, 3), 3.0))


def test_files_come_from_the_commit_of_config_json(fake_hub):
    """The listed files are fetched at config.json's commit, never at whatever 'main' is by then."""
    old = _pipeline(1.0)
    old_sha = fake_hub.add_commit(REPO, old)
    fake_hub.add_commit(REPO, _pipeline(2.0))
    path = resolve_pretrained_dir(f"hf-hub:{REPO}", revision=old_sha)
    file_requests = [r.path for r in fake_hub.requests if r.path.endswith("model.safetensors")]
    assert file_requests and all(f"/resolve/{old_sha}/" in p for p in file_requests)
    _assert_dir_holds(path, old)


def test_force_download_fetches_again(fake_hub):
    fake_hub.add_commit(REPO, _pipeline())
    resolve_pretrained_dir(f"hf-hub:{REPO}")
    n = len(fake_hub.requests)
    resolve_pretrained_dir(f"hf-hub:{REPO}", force_download=True)
    assert sum(r.method == "GET" for r in fake_hub.requests[n:]) == 3


def test_offline_with_warm_cache(fake_hub, monkeypatch):
    files = _pipeline()
    sha = fake_hub.add_commit(REPO, files)
    online = resolve_pretrained_dir(f"hf-hub:{REPO}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # after huggingface_hub was imported
    n = len(fake_hub.requests)
    assert resolve_pretrained_dir(f"hf-hub:{REPO}") == online
    assert resolve_pretrained_dir(f"hf-hub:{REPO}", revision=sha) == online
    assert len(fake_hub.requests) == n  # not a single request


def test_offline_with_cold_cache_fails_clearly(fake_hub, monkeypatch, tmp_path):
    fake_hub.add_commit(REPO, _pipeline())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedNotFoundError) as info:
        resolve_pretrained_dir(f"hf-hub:{REPO}")
    message = str(info.value)
    assert "HF_HUB_OFFLINE is set" in message and REPO in message
    assert str(tmp_path / "hf-cache") in message and "local directory" in message
    assert isinstance(info.value, FileNotFoundError) and info.value.__cause__ is not None
    assert fake_hub.requests == []


def test_offline_with_partial_cache_names_the_missing_file(fake_hub, monkeypatch):
    fake_hub.add_commit(REPO, _pipeline())
    resolve_pretrained_dir(f"hf-hub:{REPO}")
    fake_hub.add_commit(REPO, _pipeline(2.0, files=("model.safetensors", "vocab.json", "README.md")))
    # Only config.json of the new commit reaches the cache: the weights' download is cut off for good.
    fake_hub.inject_fault(REPO, "model.safetensors", after_bytes=10, mode="short")
    with pytest.raises(PretrainedNotFoundError):
        resolve_pretrained_dir(f"hf-hub:{REPO}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedNotFoundError, match="HF_HUB_OFFLINE is set and model.safetensors of org/tiny-gan"):
        resolve_pretrained_dir(f"hf-hub:{REPO}")


def test_missing_repository(fake_hub):
    with pytest.raises(PretrainedNotFoundError) as info:
        resolve_pretrained_dir("hf-hub:org/does-not-exist")
    message = str(info.value)
    assert "org/does-not-exist" in message and "does not exist" in message and "HF_TOKEN" in message
    assert fake_hub.endpoint in message
    assert type(info.value.__cause__).__name__ == "RepositoryNotFoundError"


def test_missing_revision(fake_hub):
    fake_hub.add_commit(REPO, _pipeline())
    with pytest.raises(PretrainedNotFoundError) as info:
        resolve_pretrained_dir(f"hf-hub:{REPO}", revision="v9")
    message = str(info.value)
    assert "revision 'v9' not found" in message and REPO in message and "branch, tag or commit sha" in message
    assert type(info.value.__cause__).__name__ == "RevisionNotFoundError"


def test_repository_without_config(fake_hub):
    fake_hub.add_commit(REPO, {"model.safetensors": _weights(1.0)})
    with pytest.raises(PretrainedNotFoundError, match=f"{REPO} .*has no config.json"):
        resolve_pretrained_dir(f"hf-hub:{REPO}")


def test_file_listed_in_config_but_missing_on_server(fake_hub):
    files = _pipeline()
    del files["vocab.json"]
    fake_hub.add_commit(REPO, files)
    with pytest.raises(PretrainedNotFoundError) as info:
        resolve_pretrained_dir(f"hf-hub:{REPO}")
    message = str(info.value)
    assert "lists vocab.json" in message and REPO in message and "push the directory again" in message
    assert type(info.value.__cause__).__name__ == "RemoteEntryNotFoundError"


def test_config_without_files_list(fake_hub):
    fake_hub.add_commit(REPO, {"config.json": b'{"family": "tiny"}'})
    with pytest.raises(CheckpointError, match='no "files" list'):
        resolve_pretrained_dir(f"hf-hub:{REPO}")


def test_config_listing_a_path_outside_the_directory(fake_hub):
    fake_hub.add_commit(REPO, {"config.json": b'{"files": ["../../evil"]}'})
    with pytest.raises(CheckpointError, match="relative paths inside"):
        resolve_pretrained_dir(f"hf-hub:{REPO}")


def test_unreachable_endpoint_fails_fast(fake_hub, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.monotonic()
    with pytest.raises(PretrainedNotFoundError) as info:
        resolve_pretrained_dir(f"hf-hub:{REPO}")
    assert time.monotonic() - start < 5  # no exponential-backoff retries before the error
    message = str(info.value)
    assert f"could not reach the Hub endpoint http://127.0.0.1:{port}" in message
    assert "HF_HUB_OFFLINE=1" in message and "warm cache" in message
    assert info.value.__cause__ is not None


def test_server_error_fails_fast(fake_hub):
    fake_hub.add_commit(REPO, _pipeline())
    fake_hub.outage = 503
    start = time.monotonic()
    with pytest.raises(PretrainedNotFoundError, match=f"answered HTTP 503 for config.json of {REPO}.*try again later"):
        resolve_pretrained_dir(f"hf-hub:{REPO}")
    assert time.monotonic() - start < 5


def test_unreachable_endpoint_with_warm_cache_uses_it(fake_hub, monkeypatch):
    fake_hub.add_commit(REPO, _pipeline())
    path = resolve_pretrained_dir(f"hf-hub:{REPO}")
    fake_hub.stop()
    start = time.monotonic()
    assert resolve_pretrained_dir(f"hf-hub:{REPO}") == path
    assert time.monotonic() - start < 5


def test_interrupted_download_resumes_byte_identical(fake_hub, tmp_path):
    """The server hangs up in the middle of the weights; huggingface_hub retries and the file is intact."""
    files = _pipeline()
    fake_hub.add_commit(REPO, files)
    fake_hub.inject_fault(REPO, "model.safetensors", after_bytes=40)
    path = resolve_pretrained_dir(f"hf-hub:{REPO}")
    _assert_dir_holds(path, files)
    gets = [r for r in fake_hub.requests if r.method == "GET" and r.path.endswith("model.safetensors")]
    assert len(gets) == 2  # the cut one, then the retry
    assert _leftovers(tmp_path / "hf-cache") == []


def test_truncated_download_leaves_nothing_in_the_cache_then_retry_succeeds(fake_hub, tmp_path):
    files = _pipeline()
    fake_hub.add_commit(REPO, files)
    fake_hub.inject_fault(REPO, "model.safetensors", after_bytes=40, mode="short")
    cache = tmp_path / "hf-cache"
    with pytest.raises(PretrainedNotFoundError, match="model.safetensors of org/tiny-gan.*Nothing was stored"):
        resolve_pretrained_dir(f"hf-hub:{REPO}")
    # No partial file where the cache would pick it up: no blob, no snapshot entry, no leftover temp file.
    assert _leftovers(cache) == []
    assert not list(cache.rglob("model.safetensors"))
    blob_sizes = sorted(p.stat().st_size for p in cache.rglob("blobs/*"))
    assert blob_sizes == [len(files["config.json"])]

    path = resolve_pretrained_dir(f"hf-hub:{REPO}")
    _assert_dir_holds(path, files)


def test_registered_tag_downloads_its_hub_repo(fake_hub):
    hub_id = textgan.get_pretrained("dfgan-birds").hub_id
    assert hub_id == "textgan/dfgan-birds"
    files = _pipeline()
    sha = fake_hub.add_commit(hub_id, files)
    path = resolve_pretrained_dir("dfgan-birds")
    assert path.name == sha and "models--textgan--dfgan-birds" in str(path)
    _assert_dir_holds(path, files)


# ---------------------------------------------------------------------------------------------- local / unknown


def test_local_directory_is_returned_as_is(tmp_path):
    for name, data in _pipeline().items():
        (tmp_path / name).write_bytes(data)
    assert resolve_pretrained_dir(tmp_path) == tmp_path
    assert resolve_pretrained_dir(str(tmp_path)) == tmp_path


def test_local_directory_without_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(_weights(1.0))
    with pytest.raises(PretrainedNotFoundError, match=f"{tmp_path} is not a pretrained directory: it has no config.json"):
        resolve_pretrained_dir(str(tmp_path))


def test_local_directory_missing_a_listed_file(tmp_path):
    (tmp_path / "config.json").write_bytes(_pipeline()["config.json"])
    (tmp_path / "vocab.json").write_text("{}")
    with pytest.raises(PretrainedNotFoundError, match="lists model.safetensors, which is not there"):
        resolve_pretrained_dir(tmp_path)


def test_missing_local_path(tmp_path):
    with pytest.raises(PretrainedNotFoundError, match="does not exist"):
        resolve_pretrained_dir(tmp_path / "nope")


def test_unknown_name_lists_tags_and_forms():
    with pytest.raises(UnknownModelError) as info:
        resolve_pretrained_dir("dfgan-flowers")
    message = str(info.value)
    assert "dfgan-birds" in message and "hf-hub:org/name" in message and "local directory" in message
    with pytest.raises(UnknownModelError, match="write 'hf-hub:org/name'"):
        resolve_pretrained_dir("org/name")


def test_malformed_hub_id():
    with pytest.raises(UnknownModelError, match="hf-hub:org/name"):
        resolve_pretrained_dir("hf-hub:a/b/c")


# ---------------------------------------------------------------------------------------------- upload


def _write_dir(folder: Path, files: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_push_to_hub_round_trip(fake_hub, tmp_path):
    files = _pipeline(files=("model.safetensors", "vocab.json", "README.md"))
    folder = _write_dir(tmp_path / "pipeline", files)
    (folder / "notes.txt").write_text("stays local")

    url = push_to_hub(folder, "me/pushed", token="hf_write")

    sha = url.rstrip("/").rsplit("/", 1)[-1]
    assert url == f"{fake_hub.endpoint}/me/pushed/commit/{sha}" and url.oid == sha
    assert set(fake_hub.files("me/pushed")) == {".gitattributes", *files}  # notes.txt is not in config.json
    path = resolve_pretrained_dir("hf-hub:me/pushed")
    assert path.name == sha
    _assert_dir_holds(path, files)

    # A second push with new weights makes a new commit; the first stays reachable by its sha.
    new_files = _pipeline(5.0, files=("model.safetensors", "vocab.json", "README.md"))
    _write_dir(folder, new_files)
    second = push_to_hub(folder, "me/pushed", token="hf_write", commit_message="new weights")
    assert second.oid != sha
    _assert_dir_holds(resolve_pretrained_dir("hf-hub:me/pushed"), new_files)
    _assert_dir_holds(resolve_pretrained_dir("hf-hub:me/pushed", revision=sha), files)

    # Nothing changed: no empty commit, the current one is returned.
    assert push_to_hub(folder, "me/pushed", token="hf_write").oid == second.oid


def test_push_to_a_branch(fake_hub, tmp_path):
    main_files = _pipeline(1.0)
    fake_hub.add_commit("me/branchy", main_files)
    branch_files = _pipeline(7.0)
    folder = _write_dir(tmp_path / "pipeline", branch_files)
    push_to_hub(folder, "me/branchy", token="hf_write", revision="experiment")
    _assert_dir_holds(resolve_pretrained_dir("hf-hub:me/branchy", revision="experiment"), branch_files)
    _assert_dir_holds(resolve_pretrained_dir("hf-hub:me/branchy"), main_files)


def test_push_without_create_repo_needs_an_existing_repo(fake_hub, tmp_path):
    folder = _write_dir(tmp_path / "pipeline", _pipeline())
    with pytest.raises(Exception) as info:
        push_to_hub(folder, "me/absent", token="hf_write", create_repo=False)
    assert type(info.value).__name__ == "RepositoryNotFoundError"
    assert not any(r.path == "/api/repos/create" for r in fake_hub.requests)


def test_push_rejects_an_incomplete_directory_before_any_request(fake_hub, tmp_path):
    folder = _write_dir(tmp_path / "pipeline", {"config.json": _pipeline()["config.json"]})
    with pytest.raises(PretrainedNotFoundError, match="lists model.safetensors, vocab.json"):
        push_to_hub(folder, "me/pushed", token="hf_write")
    assert fake_hub.requests == []


# ---------------------------------------------------------------------------------------------- download_url


def test_download_url_with_good_checksum(fake_hub, tmp_path):
    data = os.urandom(3000)
    fake_hub.static["orig/netG.pth"] = data
    dest = tmp_path / "dl" / "netG.pth"
    out = download_url(f"{fake_hub.endpoint}/files/orig/netG.pth", dest, sha256=hashlib.sha256(data).hexdigest())
    assert out == dest and dest.read_bytes() == data
    assert not dest.with_name("netG.pth.part").exists()
    # Without a digest it downloads too.
    assert download_url(f"{fake_hub.endpoint}/files/orig/netG.pth", tmp_path / "b.pth").read_bytes() == data


def test_download_url_with_bad_checksum(fake_hub, tmp_path):
    data = b"not the weights"
    fake_hub.static["orig/netG.pth"] = data
    dest = tmp_path / "netG.pth"
    url = f"{fake_hub.endpoint}/files/orig/netG.pth"
    with pytest.raises(CheckpointError) as info:
        download_url(url, dest, sha256="0" * 64)
    message = str(info.value)
    assert url in message and "0" * 64 in message and hashlib.sha256(data).hexdigest() in message
    assert list(tmp_path.iterdir()) == []  # neither dest nor dest.part


def test_download_url_http_404(fake_hub, tmp_path):
    url = f"{fake_hub.endpoint}/files/orig/missing.pth"
    with pytest.raises(PretrainedNotFoundError, match=f"could not download {url}: HTTP 404"):
        download_url(url, tmp_path / "missing.pth")
    assert list(tmp_path.iterdir()) == []


def test_corrupted_cache_entry_is_detected_and_fetched_again(fake_hub, monkeypatch):
    """A cached blob that no longer matches its ETag (the git blob sha1 / LFS sha256 it is named by) is
    fetched again; offline, it is reported instead of being loaded."""
    files = _pipeline()
    fake_hub.add_commit(REPO, files)
    path = resolve_pretrained_dir(f"hf-hub:{REPO}")
    blob = (path / "model.safetensors").resolve()
    good = blob.read_bytes()
    blob.write_bytes(good[:-4] + b"XXXX")  # same size: only the content hash can tell
    n = len(fake_hub.requests)
    again = resolve_pretrained_dir(f"hf-hub:{REPO}")
    assert (again / "model.safetensors").read_bytes() == good
    assert any(r.method == "GET" and r.path.endswith("model.safetensors") for r in fake_hub.requests[n:])
    n = len(fake_hub.requests)
    resolve_pretrained_dir(f"hf-hub:{REPO}")  # verified once: no body fetched again
    assert not any(r.method == "GET" and r.path.endswith("model.safetensors") for r in fake_hub.requests[n:])
    blob = (again / "model.safetensors").resolve()
    blob.write_bytes(good[:-4] + b"YYYY")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from textgan.errors import ChecksumError
    with pytest.raises(ChecksumError, match="content hash"):
        resolve_pretrained_dir(f"hf-hub:{REPO}")
