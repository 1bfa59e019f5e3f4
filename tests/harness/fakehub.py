"""A local stand-in for the Hugging Face hub: the routes `huggingface_hub` resolves and fetches by.

No machine here reaches huggingface.co, so tests point `HF_ENDPOINT` (or `endpoint=`) at this
server instead. It serves plain folders (tiny pipelines written with `save_pretrained`, in the
real repositories' layout) under hub ids, answering exactly what `snapshot_download` and
`hf_hub_download` ask (huggingface_hub 2.x, `_snapshot_download.py`, `file_download.py`):

- `GET /api/models/{repo}[/revision/{rev}]`: the model info, `sha` (the commit) and `siblings`;
- `GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=…`: the files with size, git blob id and,
  for weights, the LFS sha256 (one page: no `Link` header);
- `HEAD|GET /{repo}/resolve/{rev}/{path}`: `ETag` (the LFS sha256 for weights, the git blob id
  otherwise), `X-Repo-Commit`, `Content-Length`, `Accept-Ranges`, and `Range` answered with 206.

Unknown repositories, revisions and files get 404s with the hub's `X-Error-Code`. A test can tell
it to cut one file's download once, mid-way (`drop_once`), or to hold one mid-way until released
(`stall`), and reads back what was asked (`requests`). It runs on a thread of its own, so
synchronous callers (the CLI in-process, or a subprocess) reach it alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".onnx", ".msgpack")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class HubFile:
    path: str
    data: bytes
    blob_id: str  # git's blob sha1
    sha256: str | None  # set for LFS files (weights)

    @property
    def etag(self) -> str:
        return self.sha256 or self.blob_id


@dataclass
class HubRepo:
    repo_id: str
    files: dict[str, HubFile]
    sha: str

    @classmethod
    def from_folder(cls, repo_id: str, folder: Path) -> HubRepo:
        files: dict[str, HubFile] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder).as_posix()
            if rel.startswith(".cache/") or rel.startswith(".git/"):
                continue
            data = path.read_bytes()
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            lfs = hashlib.sha256(data).hexdigest() if rel.endswith(LFS_SUFFIXES) else None
            files[rel] = HubFile(rel, data, blob, lfs)
        commit = hashlib.sha1(
            json.dumps([repo_id, [(f.path, f.blob_id) for f in files.values()]]).encode()
        ).hexdigest()
        return cls(repo_id, files, commit)


@dataclass
class _Stall:
    after: int
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FakeHub:
    """`with FakeHub({"org/name": folder, …}) as hub:` serves them at `hub.url` until it ends."""

    def __init__(self, repos: Mapping[str, Path]) -> None:
        self.repos = {
            repo_id: HubRepo.from_folder(repo_id, Path(d)) for repo_id, d in repos.items()
        }
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.bytes_sent: dict[str, int] = {}  # "repo/path" -> body bytes sent, all requests
        self._drops: dict[str, int] = {}
        self._stalls: dict[str, _Stall] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- what a test can ask of it ------------------------------------------------------------

    def drop_once(self, repo_id: str, path: str, *, after: int) -> None:
        """The next GET of that file sends its full length, `after` bytes, then cuts the line."""
        self._drops[f"{repo_id}/{path}"] = after

    def stall(self, repo_id: str, path: str, *, after: int) -> _Stall:
        """Every GET of that file sends `after` bytes, then waits for `.release` (`.reached` is
        set once a download is held there)."""
        stall = _Stall(after)
        self._stalls[f"{repo_id}/{path}"] = stall
        return stall

    def release(self, repo_id: str, path: str) -> None:
        """That file is served whole again, and a download held on it goes on (then is cut)."""
        self._stalls.pop(f"{repo_id}/{path}").release.set()

    def gets(self, repo_id: str) -> list[tuple[str, str | None]]:
        """(file path, Range header) of every file download asked of `repo_id`, in order."""
        prefix = f"/{repo_id}/resolve/"
        return [
            (path.removeprefix(prefix).split("/", 1)[1], rng)
            for method, path, rng in self.requests
            if method == "GET" and path.startswith(prefix)
        ]

    # -- the routes ---------------------------------------------------------------------------

    def _repo(self, repo_id: str, revision: str) -> HubRepo:
        repo = self.repos.get(repo_id)
        if repo is None:
            raise _error("RepoNotFound", f"Repository Not Found for url: {repo_id}")
        if revision not in ("main", repo.sha):
            raise _error("RevisionNotFound", f"Invalid rev id: {revision}")
        return repo

    async def _info(self, request: web.Request) -> web.Response:
        info = request.match_info
        repo = self._repo(f"{info['org']}/{info['name']}", info.get("rev", "main"))
        siblings = [
            {"rfilename": f.path, "size": len(f.data), "blobId": f.blob_id}
            for f in repo.files.values()
        ]
        body = {
            "_id": repo.sha[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.sha,
            "private": False,
            "gated": False,
            "disabled": False,
            "tags": ["diffusers"],
            "library_name": "diffusers",
            "siblings": siblings,
        }
        return web.json_response(body)

    async def _tree(self, request: web.Request) -> web.Response:
        info = request.match_info
        repo = self._repo(f"{info['org']}/{info['name']}", info["rev"])
        under = info.get("path", "").strip("/")
        recursive = request.query.get("recursive", "false").lower() in ("true", "1")
        prefix = f"{under}/" if under else ""
        entries: list[dict[str, Any]] = []
        folders: set[str] = set()
        for f in repo.files.values():
            if not f.path.startswith(prefix):
                continue
            rest = f.path[len(prefix) :]
            if "/" in rest and not recursive:
                folders.add(prefix + rest.split("/", 1)[0])
                continue
            parts = rest.split("/")
            folders.update(prefix + "/".join(parts[:i]) for i in range(1, len(parts)))
            entry: dict[str, Any] = {
                "type": "file",
                "path": f.path,
                "size": len(f.data),
                "oid": f.blob_id,
            }
            if f.sha256:
                entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": 134}
            entries.append(entry)
        oid = "0" * 40
        entries += [{"type": "directory", "path": d, "oid": oid} for d in sorted(folders)]
        return web.json_response(entries)

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        repo_id = f"{info['org']}/{info['name']}"
        repo = self._repo(repo_id, info["rev"])
        hub_file = repo.files.get(info["path"])
        if hub_file is None:
            raise _error("EntryNotFound", f"Entry Not Found for url: {request.path}")
        data = hub_file.data
        headers = {
            "ETag": f'"{hub_file.etag}"',
            "X-Repo-Commit": repo.sha,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        start, status = 0, 200
        match = _RANGE.match(request.headers.get("Range", ""))
        if match and request.method == "GET":
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(data) - 1
            if start >= len(data):
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
            data = data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{len(hub_file.data)}"
            status = 206
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return web.Response(status=200, headers=headers)
        key = f"{repo_id}/{hub_file.path}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(data)
        await response.prepare(request)
        drop = self._drops.pop(key, None)
        stall = self._stalls.get(key)
        cut = drop if drop is not None else stall.after if stall is not None else None
        if cut is not None and cut < len(data):
            await response.write(data[:cut])
            self.bytes_sent[key] = self.bytes_sent.get(key, 0) + cut
            if stall is not None and drop is None:
                stall.reached.set()
                await asyncio.get_running_loop().run_in_executor(None, stall.release.wait)
            assert request.transport is not None
            request.transport.close()  # the line is cut mid-file
            return response
        await response.write(data)
        self.bytes_sent[key] = self.bytes_sent.get(key, 0) + len(data)
        await response.write_eof()
        return response

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path, request.headers.get("Range")))
        response: web.StreamResponse = await handler(request)
        return response

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        repo = "/{org}/{name}"
        app.router.add_get("/api/models" + repo, self._info)
        app.router.add_get("/api/models" + repo + "/revision/{rev}", self._info)
        app.router.add_get("/api/models" + repo + "/tree/{rev}", self._tree)
        app.router.add_get("/api/models" + repo + "/tree/{rev}/{path:.*}", self._tree)
        app.router.add_route("HEAD", repo + "/resolve/{rev}/{path:.+}", self._resolve)
        app.router.add_get(repo + "/resolve/{rev}/{path:.+}", self._resolve, allow_head=False)
        return app

    # -- running it ---------------------------------------------------------------------------

    def __enter__(self) -> FakeHub:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._runner = web.AppRunner(self._app(), access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fakehub", daemon=True)
        self._thread.start()
        ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        for stall in self._stalls.values():
            stall.release.set()
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)


def _error(code: str, message: str) -> web.HTTPNotFound:
    """A 404 as the hub words it: `X-Error-Code` tells huggingface_hub which error to raise."""
    return web.HTTPNotFound(
        text=json.dumps({"error": message}),
        content_type="application/json",
        headers={"X-Error-Code": code, "X-Error-Message": message},
    )
