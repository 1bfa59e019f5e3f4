"""`reelbot models pull FAMILY`: a family's repositories, exactly the files its pipelines load.

Each repository of `core.models.MODELS[family]` goes to `REELBOT_MODELS_DIR/<Repo.folder>` (the
hub id as a folder path), where the worker looks before it asks the hub. Only `allow_patterns`
less `ignore_patterns` are fetched: no second precision, no training checkpoint.

Downloads are `huggingface_hub.hf_hub_download` with `local_dir`, one file at a time, so each
file has its own progress bar under one for the whole family. A dropped connection is resumed in
place with a `Range` request (huggingface_hub retries it); after Ctrl-C, or any error, running
the same command again skips every file already in place (the folder's `.cache/huggingface`
records their commit) and starts only the unfinished ones again.

`reelbot models pull scan` fetches the output scan's CLIP model (`core.models.AUXILIARY`), which
any family may use; `reelbot models pull speech` fetches Dia and its DAC codec, for /speak's
typed lines on an offline worker. `--tiny` writes the family's tiny random model instead
(`cli.tiny_models`), with no network.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.models_dir import configured_models_dir
from core.errors import UserFacingError
from core.models import (
    AUXILIARY,
    CLIP_SCAN_REPO,
    DIA_ID,
    MODELS,
    SCAN,
    SPEECH,
    FamilyModels,
    Repo,
    family_models,
)

EXIT_INTERRUPTED = 130


class PullError(UserFacingError):
    """A pull that can't go on: says which repository, why, and what to do about it."""


@dataclass(frozen=True)
class PlannedFile:
    repo: Repo
    path: str
    size: int


@dataclass(frozen=True)
class Pulled:
    """One repository in place: where it went and what it holds."""

    repo: Repo
    folder: Path
    files: int
    size: int


def models_dir(given: Path | None) -> Path:
    """`--dir`, else REELBOT_MODELS_DIR (the environment, then `.env`, as the worker reads it)."""
    found = given.expanduser() if given is not None else configured_models_dir()
    if found is None:
        raise PullError(
            "REELBOT_MODELS_DIR is not set: set it to the folder the worker should load weights "
            "from (the same value for the worker), or pass --dir FOLDER"
        )
    return found


def _hub_errors(repo: Repo, endpoint: str | None) -> Any:
    """huggingface_hub's failures, worded as what to do next."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    @contextmanager
    def translate() -> Iterator[None]:
        resume = "run the same command again to resume (files already in place are kept)"
        try:
            yield
        except OfflineModeIsEnabled:
            raise PullError(
                "HF_HUB_OFFLINE is set: pulling needs the hub; unset HF_HUB_OFFLINE for the pull "
                "(the worker can keep it)"
            ) from None
        except GatedRepoError:
            raise PullError(
                f"{repo.repo_id} is gated: accept its licence ({repo.licence}) on its hub page "
                "while signed in, then set HF_TOKEN to a token of that account"
            ) from None
        except RepositoryNotFoundError:
            raise PullError(
                f"{repo.repo_id} was not found on the hub ({_endpoint(endpoint)}): if it is "
                f"private, set HF_TOKEN; if it moved, set {repo.variable} to where it is now"
            ) from None
        except HfHubHTTPError as exc:
            raise PullError(f"{repo.repo_id}: the hub answered {exc}; {resume}") from None
        except (OSError, ConnectionError) as exc:
            raise PullError(
                f"{repo.repo_id}: could not download ({type(exc).__name__}: {exc}); check the "
                f"network (or HF_ENDPOINT) and {resume}"
            ) from None
        except Exception as exc:  # httpx's transport errors are not OSErrors
            if type(exc).__module__.startswith(("httpx", "httpcore")):
                raise PullError(
                    f"{repo.repo_id}: could not reach the hub at {_endpoint(endpoint)} "
                    f"({type(exc).__name__}); check the network (or HF_ENDPOINT) and {resume}"
                ) from None
            raise

    return translate()


def _endpoint(given: str | None) -> str:
    from huggingface_hub import constants

    return given or constants.ENDPOINT


def plan(models: FamilyModels, *, endpoint: str | None = None) -> list[tuple[Repo, str]]:
    """Each repository's commit on the hub: one info call each, before any byte moves."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint)
    commits = []
    for repo in models.repos:
        with _hub_errors(repo, endpoint):
            info = api.repo_info(repo.repo_id)
        assert info.sha is not None
        commits.append((repo, info.sha))
    return commits


def files_of(repo: Repo, commit: str, *, endpoint: str | None = None) -> list[PlannedFile]:
    """The repository's files at `commit` that its pipelines load (allow less ignore)."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile
    from huggingface_hub.utils import filter_repo_objects

    with _hub_errors(repo, endpoint):
        tree = [
            entry
            for entry in HfApi(endpoint=endpoint).list_repo_tree(
                repo.repo_id, recursive=True, revision=commit
            )
            if isinstance(entry, RepoFile)
        ]
    sizes = {entry.path: entry.size for entry in tree}
    wanted = filter_repo_objects(
        sizes, allow_patterns=list(repo.allow_patterns), ignore_patterns=list(repo.ignore_patterns)
    )
    files = [PlannedFile(repo, path, sizes[path]) for path in sorted(wanted)]
    if not files:
        raise PullError(
            f"{repo.repo_id} has none of the files reelbot loads ({', '.join(repo.allow_patterns)})"
            f"; set {repo.variable} to a repository in diffusers layout"
        )
    return files


def pull(
    family: str, *, into: Path, endpoint: str | None = None, progress: bool = True
) -> list[Pulled]:
    """Download `family`'s repositories into `into`; every file in place when it returns."""
    try:
        models = family_models(family)
    except ValueError as exc:
        raise PullError(str(exc)) from None
    if not models.repos:
        raise PullError(
            f"the {family} family builds its model in code (builtin:tiny): nothing to pull"
        )
    return pull_repos(family, models.repos, into=into, endpoint=endpoint, progress=progress)


def pull_repos(
    label: str,
    repos: tuple[Repo, ...],
    *,
    into: Path,
    endpoint: str | None = None,
    progress: bool = True,
) -> list[Pulled]:
    """`pull` for some of a family's repositories (`reelbot up --model` fetches what is
    missing, and a main repository other than the registry's default)."""
    from tqdm import tqdm

    models = FamilyModels(family=label, repos=repos, vram_bf16_gb=None)
    planned = [
        (repo, commit, files_of(repo, commit, endpoint=endpoint))
        for repo, commit in plan(models, endpoint=endpoint)
    ]
    total = sum(f.size for _, _, files in planned for f in files)
    count = sum(len(files) for _, _, files in planned)
    overall = tqdm(
        total=total,
        desc=f"{label}: {count} files",
        unit="B",
        unit_scale=True,
        position=0,
        file=sys.stderr,
        disable=not progress,
    )
    pulled = []
    with overall:
        for repo, commit, files in planned:
            folder = into / repo.folder
            for planned_file in files:
                _download(planned_file, commit, folder, overall, endpoint, progress)
            pulled.append(Pulled(repo, folder, len(files), sum(f.size for f in files)))
    return pulled


def _download(
    planned: PlannedFile, commit: str, folder: Path, overall: Any, endpoint: str | None, shown: bool
) -> None:
    """One file, with its own bar; its bytes also move the overall bar (exactly once)."""
    from huggingface_hub import hf_hub_download
    from tqdm import tqdm

    counted = 0

    class FileBar(tqdm):  # type: ignore[type-arg]  # what hf_hub_download draws a file with
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            nonlocal counted
            initial = kwargs.get("initial", 0) or 0
            super().__init__(
                *args,
                **{**kwargs, "desc": planned.path[-40:]},
                position=1,
                leave=False,
                file=sys.stderr,
                disable=not shown,
            )
            overall.update(initial)  # a resumed part counts as done
            counted += initial

        def update(self, n: float | None = 1) -> bool | None:
            nonlocal counted
            overall.update(n)
            counted += int(n or 0)
            return super().update(n)

    with _hub_errors(planned.repo, endpoint):
        hf_hub_download(
            planned.repo.repo_id,
            planned.path,
            revision=commit,
            local_dir=folder,
            endpoint=endpoint,
            tqdm_class=FileBar,
        )
    overall.update(planned.size - counted)  # a file already in place, or a restarted part


def describe(pulled: list[Pulled]) -> list[str]:
    """Where each repository went, and the setting that would name it elsewhere."""
    return [
        f"{p.repo.role}: {p.repo.repo_id} -> {p.folder} ({p.files} files, {_size(p.size)})"
        for p in pulled
    ]


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    raise AssertionError


def writable(into: Path, given: bool) -> Path:
    """`into`, made if missing; a PullError naming the setting when it can't be written to."""
    setting = "--dir" if given else "REELBOT_MODELS_DIR"
    try:
        into.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=into):
            pass
    except OSError as exc:
        raise PullError(
            f"can't write to {into} ({exc.strerror or exc}): set {setting} to a folder this "
            "user can write to"
        ) from None
    return into


def cmd_pull(args: argparse.Namespace) -> int:
    into = writable(models_dir(args.dir), args.dir is not None)
    if args.tiny:
        from cli.tiny_models import write_tiny

        try:
            written = write_tiny(args.family, into)
        except OSError as exc:
            raise PullError(
                f"could not write the tiny {args.family} model in {into}: {exc}"
            ) from None
        for repo, folder in written:
            print(f"{repo.role}: tiny {repo.repo_id} -> {folder}")
        print(_next_step(args.family, into))
        return 0
    try:
        pulled = pull(args.family, into=into, progress=not args.quiet)
    except KeyboardInterrupt:
        print(
            f"reelbot: interrupted; run `reelbot models pull {args.family}` again to resume "
            "(files already in place are kept)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    for line in describe(pulled):
        print(line)
    print(_next_step(args.family, into))
    return 0


def _next_step(family: str, into: Path) -> str:
    if family == SCAN:
        return (
            f"ready: REELBOT_SCAN_CLIP_MODEL={CLIP_SCAN_REPO.repo_id} REELBOT_MODELS_DIR={into} "
            "(the output scan adds CLIP; works with HF_HUB_OFFLINE=1)"
        )
    if family == SPEECH:
        return (
            f"ready: REELBOT_TTS_MODEL={DIA_ID} REELBOT_MODELS_DIR={into} "
            "(/speak voices typed lines; works with HF_HUB_OFFLINE=1)"
        )
    return (
        f"ready: REELBOT_BACKEND={family} REELBOT_MODELS_DIR={into} (works with HF_HUB_OFFLINE=1)"
    )


def add_pull_command(models_sub: Any) -> None:
    """`pull` under the `reelbot models` group (its subparsers object)."""
    p = models_sub.add_parser(
        "pull", help="download a family's weights into REELBOT_MODELS_DIR (resumable)"
    )
    pullable = [name for name, m in {**MODELS, **AUXILIARY}.items() if m.repos]
    p.add_argument(
        "family",
        choices=sorted(pullable),
        help="a family, scan (the scan's CLIP) or speech (Dia, for /speak's typed lines)",
    )
    p.add_argument(
        "--tiny",
        action="store_true",
        help="write the family's tiny random model in the same layout instead (no network)",
    )
    p.add_argument("--dir", type=Path, default=None, help="instead of REELBOT_MODELS_DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=cmd_pull)
