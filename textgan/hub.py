"""Getting pretrained directories from and to the Hugging Face Hub, and plain downloads.

A *pretrained directory* is a folder holding ``config.json`` (whose ``"files"`` key lists the other files) and
those files. :func:`resolve_pretrained_dir` turns a local directory, ``"hf-hub:org/name"`` or a registered
pretrained tag into such a folder on disk (the Hub cache's snapshot folder for Hub sources);
:func:`push_to_hub` uploads one; :func:`download_url` fetches the authors' original files.

Environment variables are read at call time, not when ``huggingface_hub`` is imported: ``HF_ENDPOINT``,
``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` / ``HF_HOME`` (``huggingface_hub`` itself reads them once, at import).
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import List, Optional, Tuple, Union

from ._registry import get_pretrained, list_pretrained
from .errors import CheckpointError, ChecksumError, PretrainedNotFoundError, UnknownModelError

__all__ = ["HUB_PREFIX", "CONFIG_NAME", "resolve_pretrained_dir", "push_to_hub", "download_url"]

HUB_PREFIX = "hf-hub:"
CONFIG_NAME = "config.json"

#: tags whose folder ships inside the package (textgan/weights/<tag>/), resolved without any network
PACKAGED_MODELS = {"shapes-dfgan64": Path(__file__).with_name("weights") / "shapes-dfgan64"}
#: the model ``textgan.load_pretrained()`` and ``textgan generate`` use when none is named
DEFAULT_MODEL = "shapes-dfgan64"

_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's spelling of "true" for its env variables
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")

PathLike = Union[str, "os.PathLike[str]"]


# ---------------------------------------------------------------------------------------------- resolving


def resolve_pretrained_dir(
    name_or_path: PathLike,
    revision: Optional[str] = None,
    *,
    cache_dir: Optional[PathLike] = None,
    force_download: bool = False,
) -> Path:
    """The local folder holding the pretrained directory ``name_or_path``, downloading it if needed.

    Args:
        name_or_path: one of
            - an existing local directory (returned as is, after checking it holds ``config.json`` and the files
              that ``config.json`` lists);
            - ``"hf-hub:org/name"``, a Hugging Face Hub model repository;
            - a registered pretrained tag (``textgan.list_pretrained()``), meaning ``"hf-hub:<tag.hub_id>"``.
        revision: Hub branch, tag or commit sha (default ``"main"``); ignored for local directories.
        cache_dir: Hub cache folder; default ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
            ``~/.cache/huggingface/hub``.
        force_download: download every file again even if it is cached.

    Returns:
        The directory; for Hub sources the cache's snapshot folder of the commit that ``config.json`` came from,
        so every file is from that same commit.

    Raises:
        PretrainedNotFoundError: a local directory without ``config.json`` or listed files; a repository,
            revision or file the Hub does not have; an endpoint that cannot be reached; ``HF_HUB_OFFLINE`` set and
            the files not in the cache. The error says what is missing where, and how to fix it.
        UnknownModelError: ``name_or_path`` is none of the accepted forms.
        CheckpointError: ``config.json`` is not valid JSON or has no ``"files"`` list.
    """
    if isinstance(name_or_path, os.PathLike):
        # A Path is never a tag or a Hub id: report it as a missing directory rather than an unknown name.
        return _check_local_dir(Path(name_or_path))
    name = str(name_or_path)
    if os.path.isdir(name):
        return _check_local_dir(Path(name))
    if name.startswith(HUB_PREFIX):
        return _snapshot_from_hub(name[len(HUB_PREFIX):], revision, cache_dir, force_download, source=name)
    if name in PACKAGED_MODELS:  # shipped inside the package: no network, no cache
        return _check_local_dir(PACKAGED_MODELS[name])
    try:
        tag = get_pretrained(name)
    except UnknownModelError:
        raise UnknownModelError(_unknown_name_message(name)) from None
    try:
        return _snapshot_from_hub(tag.hub_id, revision, cache_dir, force_download, source=name)
    except PretrainedNotFoundError as e:
        # the converted weights are not reachable: say where the authors' own file is and how to convert it
        raise PretrainedNotFoundError(
            f"{e}\n  The authors released {tag.tag} as {tag.original_filename} ({tag.original_url}); "
            f"`textgan convert {tag.converter} {tag.original_filename} ...` makes a local folder from it "
            "(see docs/quickstart.md)") from e.__cause__


def _unknown_name_message(name: str) -> str:
    hint = ""
    if os.path.exists(name):
        hint = f" {os.path.abspath(name)} exists but is not a directory."
    elif "/" in name or os.sep in name or name.startswith("."):
        hint = f" There is no directory {os.path.abspath(name)}."
        if name.count("/") == 1 and not name.startswith((".", "/")):
            hint += f" For a Hub repository write 'hf-hub:{name}'."
    tags = ", ".join(list_pretrained()) or "none"
    return (
        f"unknown pretrained weights {name!r}.{hint} Accepted forms: a local directory containing {CONFIG_NAME}, "
        f"'hf-hub:org/name' (a Hugging Face Hub repository), or a registered tag: {tags}."
    )


def _check_local_dir(path: Path) -> Path:
    if not path.exists():
        raise PretrainedNotFoundError(f"pretrained directory {path} does not exist")
    if not path.is_dir():
        raise PretrainedNotFoundError(
            f"{path} is a file, not a pretrained directory: pass the folder that holds {CONFIG_NAME} and the weights"
        )
    config = path / CONFIG_NAME
    if not config.is_file():
        raise PretrainedNotFoundError(
            f"{path} is not a pretrained directory: it has no {CONFIG_NAME} (a pretrained directory holds "
            f"{CONFIG_NAME} listing its files, plus those files)"
        )
    missing = [f for f in _listed_files(config) if not (path / f).is_file()]
    if missing:
        raise PretrainedNotFoundError(
            f"pretrained directory {path} is incomplete: {CONFIG_NAME} lists {', '.join(missing)}, which "
            "is not there; copy the missing files in or fetch the directory again"
        )
    return path


def _listed_files(config_path: Union[str, Path]) -> List[str]:
    """The file names in config.json's ``"files"``, validated as relative paths inside the directory."""
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:  # RecursionError: "[[[[..." nesting
        raise CheckpointError(f"{config_path} is not valid JSON ({str(e)[:200]}); fetch it again with "
                              "force_download=True") from e
    files = config.get("files") if isinstance(config, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise CheckpointError(
            f"{config_path} has no \"files\" list of file names, so it does not describe a textgan pretrained "
            "directory"
        )
    for f in files:
        # Names come from a downloaded file: never let them point outside the snapshot folder.
        p = PurePosixPath(f)
        if p.is_absolute() or ".." in p.parts or "\\" in f:
            raise CheckpointError(f"{config_path} lists {f!r}: file names must be relative paths inside the directory")
    return [f for f in dict.fromkeys(files) if f != CONFIG_NAME]


# ---------------------------------------------------------------------------------------------- the Hub


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in _TRUE


def _offline() -> bool:
    from huggingface_hub import constants

    # Also offline if the variable was set when huggingface_hub was imported: it then refuses every request.
    return _env_true("HF_HUB_OFFLINE") or bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _endpoint() -> Optional[str]:
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/")
    return endpoint or None


def _shown_endpoint(endpoint: Optional[str]) -> str:
    from huggingface_hub import constants

    return endpoint or constants.ENDPOINT


def _cache_dir(cache_dir: Optional[PathLike]) -> Path:
    """The cache folder, by huggingface_hub's precedence but read now rather than at its import."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(var):
            return Path(os.path.expandvars(env[var])).expanduser()
    if env.get("HF_HOME"):
        return Path(os.path.expandvars(env["HF_HOME"])).expanduser() / "hub"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def _network_errors() -> Tuple[type, ...]:
    """Exception types meaning "could not talk to the server" for whichever HTTP client huggingface_hub uses."""
    errors: List[type] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):  # huggingface_hub >= 1.0
        try:
            errors.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            pass
    import requests  # huggingface_hub < 1.0

    errors += [requests.ConnectionError, requests.Timeout]
    return tuple(errors)


def _snapshot_from_hub(
    repo_id: str, revision: Optional[str], cache_dir: Optional[PathLike], force_download: bool, source: str
) -> Path:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError

    endpoint = _endpoint()
    offline = _offline()
    cache = _cache_dir(cache_dir)
    if offline and force_download:
        raise ValueError(f"force_download=True cannot be honoured for {source!r}: HF_HUB_OFFLINE is set")

    def fail(e: BaseException, filename: str, rev: Optional[str]) -> BaseException:
        return _hub_error(e, repo_id=repo_id, revision=rev, filename=filename, endpoint=endpoint, cache=cache,
                          offline=offline, source=source)

    def download(filename: str, rev: Optional[str]) -> str:
        path = fetch(filename, rev, force_download)
        if _verify_cached_blob(path, cache):
            return path
        # The cached copy no longer matches its content hash (disk error, an edit, a crash mid-write of
        # another tool): fetch it again, unless offline.
        if offline:
            raise ChecksumError(f"{source!r}: the cached {filename} ({os.path.realpath(path)}) does not match its "
                                "content hash and HF_HUB_OFFLINE is set: go online once, or delete that file")
        path = fetch(filename, rev, True)
        if not _verify_cached_blob(path, cache):
            raise ChecksumError(f"{source!r}: {filename} downloaded from {_shown_endpoint(endpoint)} does not match "
                                "its content hash (ETag) twice in a row; the server or a proxy corrupts it")
        return path

    def fetch(filename: str, rev: Optional[str], force: bool) -> str:
        try:
            return hf_hub_download(repo_id, filename, revision=rev, cache_dir=str(cache), endpoint=endpoint,
                                   force_download=force, local_files_only=offline)
        except HFValidationError as e:
            raise UnknownModelError(f"{source!r}: {e}. Expected 'hf-hub:org/name'.") from e
        except Exception as e:
            error = fail(e, filename, rev)
            if error is e:  # not an error we know how to explain: keep it as it is
                raise
            raise error from e

    try:
        cached = try_to_load_from_cache(repo_id, CONFIG_NAME, cache_dir=str(cache), revision=revision)
    except HFValidationError as e:
        raise UnknownModelError(f"{source!r}: {e}. Expected 'hf-hub:org/name'.") from e
    if not offline and (force_download or not isinstance(cached, str)):
        # Nothing to fall back on: check the endpoint with one quick request first, because on a network error
        # hf_hub_download retries with exponential backoff (about 20 s) before giving up.
        _probe(repo_id, revision, endpoint, fail)

    config_path = download(CONFIG_NAME, revision)
    snapshot = Path(config_path).parent
    # Pin the other files to the commit config.json came from, so a push in between cannot mix two versions.
    commit = snapshot.name if _COMMIT_SHA.fullmatch(snapshot.name) else revision
    for filename in _listed_files(config_path):
        download(filename, commit)
    return snapshot


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SHA1_HEX = re.compile(r"[0-9a-f]{40}")


def _verify_cached_blob(path: str, cache: Path) -> bool:
    """Whether the Hub cache file behind ``path`` matches its name, the content hash the Hub sent as ETag
    (sha256 for LFS files, the git blob sha1 otherwise). Hashed once per blob: a marker beside the cache,
    keyed by size and mtime, spares the work on later loads. Files named otherwise are not checked."""
    blob = Path(os.path.realpath(path))
    etag = blob.name
    if not (_SHA256_HEX.fullmatch(etag) or _SHA1_HEX.fullmatch(etag)):
        return True
    st = blob.stat()
    stamp = f"{st.st_size} {st.st_mtime_ns}"
    marker = cache.with_name(cache.name + ".textgan-verified") / etag
    try:
        if marker.read_text() == stamp:
            return True
    except OSError:
        pass
    h = hashlib.sha256() if len(etag) == 64 else hashlib.sha1(b"blob %d\0" % st.st_size)
    with open(blob, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != etag:
        return False
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(f"{etag}.{os.getpid()}.tmp")
        tmp.write_text(stamp)
        os.replace(tmp, marker)
    except OSError:
        pass  # a read-only location: verified again next time
    return True


def _probe(repo_id: str, revision: Optional[str], endpoint: Optional[str], fail) -> None:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, CONFIG_NAME, revision=revision, endpoint=endpoint)
    try:
        get_hf_file_metadata(url)  # HEAD, no retries
    except Exception as e:
        error = fail(e, CONFIG_NAME, revision)
        if error is e:
            raise
        raise error from e


def _hub_error(
    e: BaseException,
    *,
    repo_id: str,
    revision: Optional[str],
    filename: str,
    endpoint: Optional[str],
    cache: Path,
    offline: bool,
    source: str,
) -> BaseException:
    """A PretrainedNotFoundError saying what is missing where and what to do; ``e`` itself if it is unexpected."""
    from huggingface_hub.utils import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    rev = revision or "main"
    hub = _shown_endpoint(endpoint)
    what = f"{filename} of {repo_id} (revision {rev!r})"
    network = _network_errors()

    # hf_hub_download wraps the error of its metadata request (LocalEntryNotFoundError, or ValueError with
    # force_download); the wrapped one says what actually went wrong.
    root = e
    while isinstance(root, (LocalEntryNotFoundError, ValueError)) and root.__cause__ is not None:
        root = root.__cause__

    if (offline and isinstance(e, LocalEntryNotFoundError)) or isinstance(root, OfflineModeIsEnabled):
        return PretrainedNotFoundError(
            f"HF_HUB_OFFLINE is set and {what} is not in the cache at {cache}: run once online (unset "
            f"HF_HUB_OFFLINE) or pass a local directory"
        )
    if isinstance(root, RevisionNotFoundError):
        return PretrainedNotFoundError(
            f"revision {rev!r} not found in Hub repository {repo_id} on {hub}: pass an existing branch, tag or "
            "commit sha (default 'main')"
        )
    if isinstance(root, RepositoryNotFoundError):  # includes gated repositories
        return PretrainedNotFoundError(
            f"Hub repository {repo_id} does not exist on {hub}, or is private or gated (asked for {source!r}): "
            "check the name; for a private repository set HF_TOKEN or run `hf auth login`"
        )
    if isinstance(root, EntryNotFoundError) and not isinstance(root, LocalEntryNotFoundError):
        if filename == CONFIG_NAME:
            return PretrainedNotFoundError(
                f"Hub repository {repo_id} (revision {rev!r}) has no {CONFIG_NAME}, so it is not a textgan "
                "pretrained directory: check the repository id and revision"
            )
        return PretrainedNotFoundError(
            f"{CONFIG_NAME} of Hub repository {repo_id} (revision {rev!r}) lists {filename}, but the repository "
            f"has no such file: the upload is incomplete; push the directory again (textgan.hub.push_to_hub)"
        )
    if isinstance(root, network):
        return PretrainedNotFoundError(
            f"could not reach the Hub endpoint {hub} to download {what} ({type(root).__name__}: {root}): check "
            "the network or HF_ENDPOINT; to work without a network set HF_HUB_OFFLINE=1 with a warm cache (run once "
            "online first), or pass a local directory"
        )
    if isinstance(root, HfHubHTTPError):
        status = getattr(getattr(root, "response", None), "status_code", None)
        fix = ("the server is in trouble: try again later, or set HF_HUB_OFFLINE=1 to use the cache"
               if isinstance(status, int) and status >= 500 else "check the repository id, revision and HF_TOKEN")
        return PretrainedNotFoundError(
            f"the Hub endpoint {hub} answered HTTP {status} for {what} ({str(root).splitlines()[0]}): {fix}"
        )
    if isinstance(root, LocalEntryNotFoundError):
        return PretrainedNotFoundError(f"{what} is not in the cache at {cache} and could not be downloaded: {root}")
    if isinstance(root, OSError):  # e.g. the consistency check after a truncated transfer
        return PretrainedNotFoundError(
            f"downloading {what} from {hub} failed: {str(root).splitlines()[0]} Nothing was stored in the cache, "
            "so the next attempt starts afresh"
        )
    return e


# ---------------------------------------------------------------------------------------------- uploading


def push_to_hub(
    folder: PathLike,
    repo_id: str,
    *,
    token: Optional[str] = None,
    revision: Optional[str] = None,
    private: Optional[bool] = None,
    commit_message: str = "Upload textgan pipeline",
    create_repo: bool = True,
) -> str:
    """Upload the pretrained directory ``folder`` to the Hub model repository ``repo_id`` in one commit.

    Only ``config.json`` and the files it lists are uploaded (stray files in the folder stay local).

    Args:
        folder: a pretrained directory (checked as by :func:`resolve_pretrained_dir`).
        repo_id: ``"org/name"``.
        token: Hub token with write access; default ``$HF_TOKEN`` or the stored login.
        revision: branch to commit to (default ``"main"``); created from ``main`` if it does not exist.
        private: visibility when the repository is created; ignored if it exists.
        commit_message: the commit's summary line.
        create_repo: create the repository if needed (``exist_ok``); set False to require an existing one.

    Returns:
        The commit URL (huggingface_hub's ``CommitInfo``, a ``str`` whose ``.oid`` is the commit sha).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.utils import OfflineModeIsEnabled

    folder = _check_local_dir(Path(folder))
    files = [CONFIG_NAME, *_listed_files(folder / CONFIG_NAME)]
    if _offline():
        raise OfflineModeIsEnabled(f"cannot push {folder} to {repo_id}: HF_HUB_OFFLINE is set")
    api = HfApi(endpoint=_endpoint(), token=token)
    if create_repo:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision not in (None, "main"):
        api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type="model")
    return api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="model",
        revision=revision,
        commit_message=commit_message,
        allow_patterns=[glob.escape(f) for f in files],  # the patterns are fnmatch-style: match names literally
    )


# ---------------------------------------------------------------------------------------------- plain HTTP


def download_url(
    url: str,
    dest: PathLike,
    *,
    sha256: Optional[str] = None,
    timeout: float = 60.0,
    **kwargs,
) -> Path:
    """Download ``url`` to ``dest`` over plain HTTP(S), for the authors' original download locations.

    Runs :func:`textgan._download.download_url`: the body is streamed into ``dest + ".part"`` and moved onto
    ``dest`` only once complete and (with ``sha256``) verified; interrupted downloads resume; 5xx answers,
    dropped connections and timeouts are retried with backoff; a cross-process lock makes concurrent callers
    download once; a ``dest + ".sha256"`` sidecar lets a corrupted cached copy be detected and fetched again.

    Args:
        url: the file's URL.
        dest: the destination file; its folder is created if needed.
        sha256: expected hex digest; a mismatch deletes the download and raises ChecksumError.
        timeout: seconds to wait for the connection and for each read.
        **kwargs: ``retries``, ``backoff``, ``resume``, ``lock_timeout`` of :func:`textgan._download.download_url`.

    Returns:
        ``dest`` as a Path.

    Raises:
        PretrainedNotFoundError: HTTP error status or network failure after the retries, naming the url.
        ChecksumError: (a CheckpointError) the sha256 does not match (url, expected and actual digests named).
    """
    from ._download import download_url as _download_url

    return _download_url(url, dest, sha256=sha256, timeout=timeout, **kwargs)
