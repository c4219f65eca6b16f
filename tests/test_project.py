"""The project as an operator meets it: settings from the environment, deploy checks, migrations."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``python *args`` in the project, with ``env`` and nothing else of this process's environment."""
    clean_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run_python("manage.py", *args, **env)


def production_env(**extra: str) -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "chat.example.com",
        "DATABASE_URL": f"sqlite:///{PROJECT_DIR / 'unused-deploy-check.sqlite3'}",
        **extra,
    }


def test_the_server_refuses_to_start_without_a_secret_key_outside_debug():
    result = run_manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_runs_with_the_development_key():
    assert run_manage("check", DEBUG="1").returncode == 0


def test_deploy_checks_report_no_errors_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "ERROR", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_match_the_models():
    result = run_manage("makemigrations", "--check", "--dry-run", DEBUG="1")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "realtime.layers.LocalChannelLayer django.core.cache.backends.locmem.LocMemCache"),
        (
            {"REDIS_URL": "redis://127.0.0.1:6379/0"},
            "realtime.layers.RedisFanOutChannelLayer django.core.cache.backends.redis.RedisCache",
        ),
        (
            {"REDIS_URL": "redis://127.0.0.1:6379/0", "CHANNEL_LAYER": "channels-pubsub"},
            "channels_redis.pubsub.RedisPubSubChannelLayer django.core.cache.backends.redis.RedisCache",
        ),
        (
            {"REDIS_URL": "redis://127.0.0.1:6379/0", "CHANNEL_LAYER": "core"},
            "channels_redis.core.RedisChannelLayer django.core.cache.backends.redis.RedisCache",
        ),
        (
            {"REDIS_URL": "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"},
            "realtime.cluster.RedisClusterFanOutChannelLayer django.core.cache.backends.locmem.LocMemCache",
        ),
    ],
)
def test_redis_url_switches_the_channel_layer_and_cache(env, expected):
    code = (
        "from django.conf import settings as s; "
        "print(s.CHANNEL_LAYERS['default']['BACKEND'], s.CACHES['default']['BACKEND'])"
    )
    result = run_manage("shell", "-c", code, DEBUG="1", **env)
    assert result.stdout.strip().splitlines()[-1] == expected, result.stderr


def test_database_url_selects_postgresql():
    code = "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'])"
    result = run_manage("shell", "-c", code, DEBUG="1", DATABASE_URL="postgres://u@db.example:5432/confab")
    assert result.stdout.strip().splitlines()[-1] == "django.db.backends.postgresql"


def test_s3_storage_is_used_when_a_bucket_is_configured():
    code = "from django.conf import settings as s; print(s.STORAGES['default']['BACKEND'])"
    result = run_manage("shell", "-c", code, DEBUG="1", AWS_STORAGE_BUCKET_NAME="confab-media")
    assert result.stdout.strip().splitlines()[-1] == "storages.backends.s3.S3Storage"


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"DATABASE_REPLICA_URL": "postgres://127.0.0.1:5432/confab"}, "DATABASE_REPLICA_URL needs PostgreSQL"),
        (
            {"REDIS_URL": "redis+cluster://127.0.0.1:7000", "CHANNEL_LAYER": "core"},
            "works with CHANNEL_LAYER=pubsub only",
        ),
    ],
)
def test_a_scaling_setting_the_rest_of_the_configuration_cannot_honour_is_refused_at_startup(env, refusal):
    result = run_manage("check", DEBUG="1", **env)
    assert result.returncode != 0
    assert refusal in result.stderr


def test_the_asgi_server_sets_the_collectors_thresholds_from_gc_thresholds():
    probe = "import config.asgi, gc; print(gc.get_threshold())"
    result = run_python("-c", probe, DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings", GC_THRESHOLDS="900,11,123")

    assert result.stdout.strip().splitlines()[-1] == "(900, 11, 123)", result.stderr


@pytest.mark.parametrize("value", ["0,10,100", "700,10", "700,10,100,5", "700,ten,100"])
def test_collector_thresholds_that_would_switch_it_off_or_are_not_three_are_refused_at_startup(value):
    result = run_manage("check", DEBUG="1", GC_THRESHOLDS=value)

    assert result.returncode != 0
    assert "GC_THRESHOLDS must be three whole numbers of at least 1" in result.stderr


@pytest.mark.parametrize("value", ["-0.1", "6"])
def test_an_event_hold_below_zero_or_past_five_seconds_is_refused_at_startup(value):
    result = run_manage("check", DEBUG="1", WS_EVENT_HOLD_SECONDS=value)

    assert result.returncode != 0
    assert "WS_EVENT_HOLD_SECONDS must be between 0 (write at once) and 5 seconds." in result.stderr


def test_a_negative_number_of_user_group_buckets_is_refused_at_startup():
    result = run_manage("check", DEBUG="1", USER_GROUP_BUCKETS="-1")

    assert result.returncode != 0
    assert "USER_GROUP_BUCKETS must be a whole number: 0 (a channel per user) or more." in result.stderr


@pytest.mark.parametrize(("value", "expected"), [("", "{'user.': 1024}"), ("16", "{'user.': 16}"), ("0", "None")])
def test_the_pub_sub_layer_shares_user_groups_among_the_buckets_configured(value, expected):
    shown = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['CONFIG'].get('group_buckets'))",
        DEBUG="1",
        REDIS_URL="redis://127.0.0.1:6379/0",
        USER_GROUP_BUCKETS=value,
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == expected


# --- The interpreter .venv is made from (scripts/venv-python, the Makefile) -------------------


def venv_python(path: str) -> str:
    """What ``scripts/venv-python`` prints with ``path`` as PATH."""
    result = subprocess.run(
        ["/bin/sh", str(PROJECT_DIR / "scripts" / "venv-python")],
        env={"PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_venv_is_made_from_a_python_3_11_that_can_make_one():
    chosen = venv_python(os.environ["PATH"])

    answer = subprocess.run(
        [chosen, "-c", "import sys, ensurepip; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.stdout.strip() == "(3, 11)", answer.stderr


def test_the_distributions_python_3_11_comes_before_one_on_the_path(tmp_path):
    distribution = Path("/usr/bin/python3.11")
    if (
        not distribution.exists()
        or subprocess.run([distribution, "-c", "import ensurepip, venv"], capture_output=True, timeout=60).returncode
        != 0
    ):
        pytest.skip("this machine's distribution has no Python 3.11 that can make a venv")
    (tmp_path / "python3.11").symlink_to(sys.executable)  # another 3.11, first on the path

    assert venv_python(f"{tmp_path}:{os.environ['PATH']}") == str(distribution)


def make_dry_run(project: Path, made_with: str, python: str) -> str:
    """``make -n lint`` in a copy of the project's build files whose .venv says it was made with ``made_with``."""
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        (project / name).write_bytes((PROJECT_DIR / name).read_bytes())
    (project / "scripts").mkdir()
    (project / "scripts" / "venv-python").write_bytes((PROJECT_DIR / "scripts" / "venv-python").read_bytes())
    venv = project / ".venv"
    venv.mkdir()
    (venv / (".made-with-" + made_with.lstrip("/").replace("/", "-"))).touch()
    for stamp in (".runtime", ".dev"):  # after it: the requirements went in after the venv was made
        (venv / stamp).touch()
    result = subprocess.run(
        ["make", "-n", "lint", f"PYTHON={python}"], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_venv_made_from_another_interpreter_is_made_again(tmp_path):
    planned = make_dry_run(tmp_path, made_with="/opt/elsewhere/python3.11", python=sys.executable)

    assert f"{sys.executable} -m venv --clear .venv" in planned
    assert ".venv/bin/pip install --quiet -r requirements-dev.txt" in planned


def test_a_venv_made_from_the_chosen_interpreter_is_kept(tmp_path):
    planned = make_dry_run(tmp_path, made_with=sys.executable, python=sys.executable)

    assert "-m venv" not in planned
    assert "pip install" not in planned
