"""`manage.py check --deploy` is clean with the documented production environment (deploy/confab.env.example)."""

from __future__ import annotations

import secrets
import subprocess
import sys

from tests.conftest import PROJECT_DIR
from tests.deploy.conftest import production_env


def test_check_deploy_finds_nothing_with_the_documented_environment():
    # Only the environment the example gives (plus the key an operator generates, as it says):
    # not this test run's, which would switch on the test settings (PYTEST_VERSION).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(PROJECT_DIR)}
    env.update(production_env(SECRET_KEY=secrets.token_urlsafe(50)))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr, result.stdout) == (
        0,
        "",
        # The one silenced check is security.W008 (SECURE_SSL_REDIRECT off): nginx redirects
        # plain HTTP, and Django's redirect would also hit the direct health checks (see the example).
        "System check identified no issues (1 silenced).\n",
    )


def test_the_only_check_silenced_is_the_redirect_nginx_does():
    assert production_env()["SILENCED_SYSTEM_CHECKS"] == "security.W008"
