"""A loopback stand-in for the Hugging Face Hub, for tests.

It implements the part of the Hub HTTP API that ``huggingface_hub`` (2.x) uses to download single files and to
push a folder of small files:

* ``HEAD``/``GET /{repo_id}/resolve/{revision}/{filename}``: file metadata (``X-Repo-Commit``, ``ETag``,
  ``Content-Length``) and content, with ``Range`` support so interrupted downloads can resume;
* ``GET /api/models/{repo_id}[/revision/{revision}]``: repository info (used when a push changes nothing);
* ``POST /api/repos/create``, ``POST /api/validate-yaml``, ``POST /api/models/{repo_id}/preupload/{revision}``
  (every file is answered ``"regular"``, so neither LFS nor Xet is involved) and
  ``POST /api/models/{repo_id}/commit/{revision}`` (ndjson, base64 inline files);
* ``GET /files/{path}``: plain static files, standing in for the authors' original download locations.

Errors carry the ``X-Error-Code`` header the real Hub sends (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``), which is what ``huggingface_hub`` maps to its exception classes.

Repositories live in memory: each commit is a full snapshot ``{path: bytes}``; branches and tags are names
pointing at commit shas. ``inject_fault`` makes the next GET(s) of one file misbehave, ``outage`` makes every
request fail with one HTTP status, and ``requests`` records every request the server saw.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

__all__ = ["FakeHub", "Fault", "RecordedRequest", "git_blob_sha1"]


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub sends as ``ETag`` for files stored in git (not LFS)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Fault:
    """Misbehaviour for the next ``times`` GETs of one file.

    ``mode="drop"``: announce the full length, send ``after_bytes`` bytes, then close the connection (a network
    cut). ``mode="short"``: answer 200 with only ``after_bytes`` bytes and a matching ``Content-Length`` (a
    truncating proxy), so the client only notices by comparing with the size the HEAD call announced.
    """

    after_bytes: int
    times: int = 1
    mode: str = "drop"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: Dict[str, str]


@dataclass
class _Repo:
    commits: Dict[str, Dict[str, bytes]] = field(default_factory=dict)
    parents: Dict[str, Optional[str]] = field(default_factory=dict)
    branches: Dict[str, str] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    private: bool = False


class FakeHub:
    """In-memory Hub served over HTTP on 127.0.0.1 (a free port), from a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``endpoint`` is the value for
    ``HF_ENDPOINT``.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._repos: Dict[str, _Repo] = {}
        self._faults: Dict[Tuple[str, str], Fault] = {}
        self.static: Dict[str, bytes] = {}  # served at /files/<path>
        self.requests: List[RecordedRequest] = []
        self.outage: Optional[int] = None  # set to e.g. 503: every request is answered with that status
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FakeHub":
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the next poll, and tests start and stop a server each.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "FakeHub is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ content

    def create_repo(self, repo_id: str, private: bool = False) -> None:
        """An empty repository whose ``main`` branch holds one commit with ``.gitattributes``, like the Hub's."""
        with self._lock:
            if repo_id in self._repos:
                raise ValueError(f"repo {repo_id} exists")
            self._repos[repo_id] = _Repo(private=private)
            self._commit(repo_id, "main", {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"},
                         (), "initial commit")

    def add_commit(self, repo_id: str, files: Dict[str, bytes], branch: str = "main",
                   message: str = "update", delete: Tuple[str, ...] = ()) -> str:
        """Commit ``files`` (added or replaced) on ``branch``; creates the repo and the branch as needed.
        Returns the new commit sha."""
        with self._lock:
            if repo_id not in self._repos:
                self.create_repo(repo_id)
            return self._commit(repo_id, branch, files, delete, message)

    def create_tag(self, repo_id: str, tag: str, revision: str) -> None:
        with self._lock:
            self._repos[repo_id].tags[tag] = self.resolve_revision(repo_id, revision)

    def resolve_revision(self, repo_id: str, revision: str) -> Optional[str]:
        """Commit sha for a branch, tag, full sha or unambiguous sha prefix (>= 7 hex digits), else None."""
        with self._lock:
            repo = self._repos[repo_id]
            if revision in repo.branches:
                return repo.branches[revision]
            if revision in repo.tags:
                return repo.tags[revision]
            if re.fullmatch(r"[0-9a-f]{7,40}", revision):
                matches = [sha for sha in repo.commits if sha.startswith(revision)]
                if len(matches) == 1:
                    return matches[0]
            return None

    def files(self, repo_id: str, revision: str = "main") -> Dict[str, bytes]:
        with self._lock:
            return dict(self._repos[repo_id].commits[self.resolve_revision(repo_id, revision)])

    def inject_fault(self, repo_id: str, filename: str, after_bytes: int, times: int = 1, mode: str = "drop") -> None:
        """Make the next ``times`` GETs of ``filename`` in ``repo_id`` fail after ``after_bytes`` bytes."""
        if mode not in ("drop", "short"):
            raise ValueError(mode)
        with self._lock:
            self._faults[(repo_id, filename)] = Fault(after_bytes, times, mode)

    def _take_fault(self, repo_id: str, filename: str) -> Optional[Fault]:
        with self._lock:
            fault = self._faults.get((repo_id, filename))
            if fault is None:
                return None
            fault.times -= 1
            if fault.times <= 0:
                del self._faults[(repo_id, filename)]
            return fault

    def _commit(self, repo_id: str, branch: str, files: Dict[str, bytes], delete, message: str) -> str:
        repo = self._repos[repo_id]
        parent = repo.branches.get(branch)
        tree = dict(repo.commits[parent]) if parent else {}
        for path in delete:
            tree.pop(path, None)
        tree.update({path: bytes(data) for path, data in files.items()})
        # Deterministic in content, unique in history (the parent is hashed in), like a git commit id.
        h = hashlib.sha1(f"{parent}\n{message}\n".encode())
        for path in sorted(tree):
            h.update(f"{path}\0{git_blob_sha1(tree[path])}\n".encode())
        sha = h.hexdigest()
        repo.commits[sha] = tree
        repo.parents[sha] = parent
        repo.branches[branch] = sha
        return sha


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: Optional[str] = None, commit: Optional[str] = None,
                 extra: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit
        self.extra = extra or {}


_RESOLVE = re.compile(r"^/(?P<org>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_API_REPO = re.compile(r"^/api/models/(?P<org>[^/]+)/(?P<name>[^/]+)(?:/(?P<action>revision|preupload|commit|branch)/(?P<rev>[^/]+))?$")


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub  # set on the subclass made by FakeHub.start
    protocol_version = "HTTP/1.1"  # keep-alive, as against the real Hub; every response sets Content-Length

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args) -> None:  # keep pytest output clean
        pass

    # ------------------------------------------------------------------ dispatch

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_POST(self) -> None:
        self._dispatch(head=False)

    def _dispatch(self, head: bool) -> None:
        path = urlsplit(self.path).path  # still percent-encoded: a quoted "/" in a revision must not split
        self.hub.requests.append(RecordedRequest(self.command, path, dict(self.headers.items())))
        try:
            if self.hub.outage is not None:
                raise _HTTPError(self.hub.outage, "Service unavailable")
            if self.command in ("GET", "HEAD"):
                m = _RESOLVE.match(path)
                if m:
                    return self._resolve(m, head)
                m = _API_REPO.match(path)
                if m and m["action"] in (None, "revision"):
                    return self._repo_info(m)
                if path.startswith("/files/"):
                    return self._static(unquote(path[len("/files/"):]), head)
            elif self.command == "POST":
                body = self._read_body()
                if path == "/api/repos/create":
                    return self._create_repo(body)
                if path == "/api/validate-yaml":
                    return self._send_json(200, {"errors": [], "warnings": []})
                m = _API_REPO.match(path)
                if m and m["action"] == "preupload":
                    return self._preupload(m, body)
                if m and m["action"] == "commit":
                    return self._commit(m, body)
                if m and m["action"] == "branch":
                    return self._create_branch(m, body)
            raise _HTTPError(404, f"no route for {self.command} {path}")
        except _HTTPError as e:
            headers = {"X-Error-Message": e.message}
            if e.code:
                headers["X-Error-Code"] = e.code
            if e.commit:
                headers["X-Repo-Commit"] = e.commit
            self._send_json(e.status, {"error": e.message, **e.extra}, headers, head=head)

    # ------------------------------------------------------------------ helpers

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, headers: Dict[str, str], head: bool = False,
              content_length: Optional[int] = None) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _send_json(self, status: int, payload, headers: Optional[Dict[str, str]] = None, head: bool = False) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})},
                   head=head)

    def _repo(self, org: str, name: str) -> Tuple[str, _Repo]:
        repo_id = f"{unquote(org)}/{unquote(name)}"
        repo = self.hub._repos.get(repo_id)
        if repo is None:
            raise _HTTPError(404, "Repository not found", "RepoNotFound")
        if repo.private and not self.headers.get("Authorization"):
            raise _HTTPError(401, "Repository not found", "RepoNotFound")  # the Hub hides private repos
        return repo_id, repo

    def _revision(self, repo_id: str, revision_quoted: str) -> str:
        revision = unquote(revision_quoted)
        sha = self.hub.resolve_revision(repo_id, revision)
        if sha is None:
            raise _HTTPError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return sha

    def _require_token(self) -> None:
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            raise _HTTPError(401, "Invalid username or password.")

    # ------------------------------------------------------------------ download

    def _resolve(self, m: "re.Match", head: bool) -> None:
        with self.hub._lock:
            repo_id, repo = self._repo(m["org"], m["name"])
            sha = self._revision(repo_id, m["rev"])
            filename = unquote(m["file"])
            data = repo.commits[sha].get(filename)
        if data is None:
            raise _HTTPError(404, "Entry not found", "EntryNotFound", commit=sha)
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{git_blob_sha1(data)}"',
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        if head:
            return self._send(200, b"", headers, head=True, content_length=len(data))

        status, start = 200, 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            if start >= len(data):
                return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]

        fault = self.hub._take_fault(repo_id, filename)
        if fault is not None and fault.mode == "short":
            return self._send(status, body[:fault.after_bytes], headers)
        if fault is not None:  # "drop": promise everything, deliver a part, hang up
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:fault.after_bytes])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(status, body, headers)

    def _repo_info(self, m: "re.Match") -> None:
        with self.hub._lock:
            repo_id, repo = self._repo(m["org"], m["name"])
            sha = self._revision(repo_id, m["rev"] or "main")
            siblings = [{"rfilename": path} for path in sorted(repo.commits[sha])]
        self._send_json(200, {"id": repo_id, "modelId": repo_id, "sha": sha, "private": repo.private,
                              "siblings": siblings})

    def _static(self, path: str, head: bool) -> None:
        data = self.hub.static.get(path)
        if data is None:
            raise _HTTPError(404, f"{path} not found")
        self._send(200, data, {"Content-Type": "application/octet-stream"}, head=head)

    # ------------------------------------------------------------------ upload

    def _create_repo(self, body: bytes) -> None:
        self._require_token()
        payload = json.loads(body or b"{}")
        if payload.get("type") not in (None, "model"):
            raise _HTTPError(400, "only model repositories are served here")
        organization = payload.get("organization") or "user"
        repo_id = f"{organization}/{payload['name']}"
        url = f"{self.hub.endpoint}/{repo_id}"
        with self.hub._lock:
            if repo_id in self.hub._repos:
                # The Hub names the existing repo's url; create_repo(exist_ok=True) returns it.
                raise _HTTPError(409, "You already created this model repo", extra={"url": url})
            self.hub.create_repo(repo_id, private=payload.get("visibility") == "private")
        self._send_json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _preupload(self, m: "re.Match", body: bytes) -> None:
        self._require_token()
        with self.hub._lock:
            repo_id, repo = self._repo(m["org"], m["name"])
            tree = repo.commits[self._revision(repo_id, m["rev"])]
            files = [
                {
                    "path": f["path"],
                    "uploadMode": "regular",  # inline base64 in the commit: no LFS, no Xet
                    "shouldIgnore": False,
                    "oid": git_blob_sha1(tree[f["path"]]) if f["path"] in tree else None,
                }
                for f in json.loads(body)["files"]
            ]
        self._send_json(200, {"files": files, "commitOid": self.hub.resolve_revision(repo_id, unquote(m["rev"]))})

    def _create_branch(self, m: "re.Match", body: bytes) -> None:
        self._require_token()
        payload = json.loads(body or b"{}")
        with self.hub._lock:
            repo_id, repo = self._repo(m["org"], m["name"])
            branch = unquote(m["rev"])
            if branch in repo.branches or branch in repo.tags:
                raise _HTTPError(409, f"Reference {branch} already exists")
            repo.branches[branch] = self._revision(repo_id, payload.get("startingPoint") or "main")
        self._send_json(200, {})

    def _commit(self, m: "re.Match", body: bytes) -> None:
        self._require_token()
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise _HTTPError(400, "the first ndjson line must be the commit header")
        header = lines[0]["value"]
        added: Dict[str, bytes] = {}
        deleted: List[str] = []
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                if value.get("encoding") != "base64":
                    raise _HTTPError(400, "only base64 file content is supported")
                added[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                deleted.append(value["path"])
            else:  # lfsFile, deletedFolder: never requested, since preupload answers "regular"
                raise _HTTPError(400, f"unsupported commit operation {key!r}")
        with self.hub._lock:
            repo_id, repo = self._repo(m["org"], m["name"])
            branch = unquote(m["rev"])
            if branch not in repo.branches:
                raise _HTTPError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            parent = header.get("parentCommit")
            if parent and not repo.branches[branch].startswith(parent):
                raise _HTTPError(412, "A commit has happened since. Please refresh and try again.")
            sha = self.hub._commit(repo_id, branch, added, tuple(deleted), header.get("summary", ""))
        self._send_json(200, {"success": True, "commitOid": sha, "commitUrl": f"{self.hub.endpoint}/{repo_id}/commit/{sha}"})
