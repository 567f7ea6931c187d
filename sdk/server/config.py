"""The server's settings in one place, with their defaults and why; checked when built."""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from reelpoet.sdk.errors import InvalidRequestError

TOKEN_ENV_VAR = "REELPOET_TOKEN"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # loopback: reachable from this machine only, unless asked
    port: int = 8000
    data_dir: Path = Path("reelpoet-server")  # jobs.sqlite3, uploads/, results/
    tokens: tuple[str, ...] = ()  # bearer tokens accepted; each is its own client for limits
    auth: bool = True  # off only with --no-auth, and only on a loopback host
    max_upload_bytes: int = 256 * 1024**2  # a 1080p clip of a few seconds as H.264 fits easily
    queue_size: int = 16  # jobs waiting (not running) before new ones get 429
    workers: int = 1  # jobs run at once; each uses `threads` onnxruntime threads
    per_token_jobs: int = 8  # unfinished (queued + running) jobs one token may have
    bundle: Path | None = None
    threads: int | None = None
    # A .npz upload may expand to this many bytes in memory (zip files can compress well).
    max_array_bytes: int = field(default=4 * 1024**3)
    # Results are deleted this long after their job finished (0: kept until deleted by hand):
    # a server that runs for months must not fill its disk with results nobody fetches.
    keep_results_hours: float = 168.0

    def __post_init__(self) -> None:
        if not self.auth and not is_loopback(self.host):
            raise InvalidRequestError(
                f"--no-auth is allowed only on a loopback host (127.0.0.1, ::1, localhost), not "
                f"{self.host}: anyone who can reach the port could use the server"
            )
        if self.auth and not self.tokens:
            raise InvalidRequestError(
                f"the server needs a token: pass --token-file FILE or set {TOKEN_ENV_VAR} (or "
                "--no-auth on a loopback host)"
            )
        if any(len(t) < 16 or t != t.strip() for t in self.tokens):
            raise InvalidRequestError("tokens must be at least 16 characters, without spaces")
        for name in ("queue_size", "workers", "per_token_jobs", "max_upload_bytes"):
            if getattr(self, name) < 1:
                raise InvalidRequestError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.keep_results_hours < 0:
            raise InvalidRequestError("keep_results_hours must be 0 (keep) or more")
        if not 0 <= self.port < 65536:
            raise InvalidRequestError(f"port must be in 0..65535, got {self.port}")


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (every address it resolves to is loopback)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def read_tokens(
    token: str | None = None, token_file: str | os.PathLike[str] | None = None
) -> tuple[str, ...]:
    """Tokens from --token and --token-file (one per line; blank lines and # comments
    skipped), or else from $REELPOET_TOKEN."""
    tokens = (token,) if token else ()
    if token_file is not None:
        try:
            lines = Path(token_file).read_text().splitlines()
        except OSError as exc:
            raise InvalidRequestError(f"cannot read the token file {token_file}: {exc}") from exc
        found = tuple(t.strip() for t in lines if t.strip() and not t.strip().startswith("#"))
        if not found:
            raise InvalidRequestError(f"the token file {token_file} holds no token")
        tokens += found
    from_env = os.environ.get(TOKEN_ENV_VAR)
    return tokens or ((from_env,) if from_env else ())
