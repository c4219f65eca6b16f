"""The deployment as docs/deploy.md describes it, run for real: its files are read, not copied.

``production_env`` is deploy/confab.env.example with the site-specific values
replaced; ``unit_command`` is the ExecStart of deploy/systemd/confab@.service
for a port; ``render_nginx_site`` fills in deploy/nginx/confab.conf.template.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import PROJECT_DIR, ServerProcess

DEPLOY_DIR = PROJECT_DIR / "deploy"
ENV_EXAMPLE = DEPLOY_DIR / "confab.env.example"
UNIT = DEPLOY_DIR / "systemd" / "confab@.service"
NGINX_TEMPLATE = DEPLOY_DIR / "nginx" / "confab.conf.template"
INSTALL_VENV_BIN = "/srv/confab/.venv/bin/"  # where the unit expects the virtualenv
PLACEHOLDER = re.compile(r"\$\{(CONFAB_[A-Z0-9_]+)\}")


def production_env(**overrides: str) -> dict[str, str]:
    """The documented production environment (KEY=VALUE lines of the example), with ``overrides``."""
    env: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    unknown = set(overrides) - set(env)
    assert not unknown, f"not in {ENV_EXAMPLE.name}: {unknown}"
    return {**env, **overrides}


def unit_command(port: int) -> list[str]:
    """The unit's ExecStart for instance ``port``, with this checkout's virtualenv."""
    [exec_start] = [line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    command = exec_start.removeprefix("ExecStart=").replace("%i", str(port))
    argv = shlex.split(command)
    assert argv[0].startswith(INSTALL_VENV_BIN), argv[0]
    argv[0] = str(Path(sys.executable).parent / argv[0].removeprefix(INSTALL_VENV_BIN))
    return argv


def render_nginx_site(values: dict[str, str]) -> str:
    """The template with every ${CONFAB_...} filled in, as `envsubst` with that list does (nginx's $vars stay)."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], NGINX_TEMPLATE.read_text())


def wait_until_listening(port: int, process: subprocess.Popen, describe) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited early:\n{describe()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"did not listen within 30 s:\n{describe()}")


class UnitProcess:
    """One confab@<port> instance: started as the unit starts it, on a fixed port, so it can be started again."""

    def __init__(self, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.port = port
        self.env = env
        self.log_dir = log_dir
        self.server: ServerProcess | None = None
        self.starts = 0

    def start(self) -> ServerProcess:
        self.starts += 1
        log_path = self.log_dir / f"confab@{self.port}.{self.starts}.log"
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                unit_command(self.port),
                cwd=PROJECT_DIR,
                env={**os.environ, **self.env},
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self.server = ServerProcess(process, self.port, log_path)
        try:
            wait_until_listening(self.port, process, self.server.log)
        except RuntimeError:
            self.server.stop()
            raise
        return self.server

    def stop(self, sig: int | None = None) -> None:
        if self.server is not None:
            self.server.stop(sig)

    # What tests.wsclient.Client and tests.e2e.browser.wait_until_offline need of a server.
    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    def log(self) -> str:
        return self.server.log() if self.server is not None else ""
