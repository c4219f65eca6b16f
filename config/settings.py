"""Confab settings.

Every value that differs between a laptop and production is read from the
environment here, and only here: the rest of the code reads ``settings``.
Unset, the embedded defaults apply (SQLite, in-memory channel layer and
in-process stores), so ``make run`` needs no services.
"""

import hashlib
import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.db_router import replica_database

BASE_DIR = Path(__file__).resolve().parent.parent

if "PYTEST_VERSION" in os.environ:
    # Test runs from different checkouts share one PostgreSQL and one Redis (whose pub/sub ignores database
    # numbers): each checkout gets its own test database and channel prefix unless CONFAB_TEST_ID says otherwise.
    # Server processes that tests start inherit it.
    os.environ.setdefault("CONFAB_TEST_ID", "_" + hashlib.blake2s(str(BASE_DIR).encode(), digest_size=3).hexdigest())


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# pytest (8.2+) sets PYTEST_VERSION for the test process and the servers it
# starts: tests get a fixed key and a Redis database of their own (flushed
# before every test), so a developer's data in Redis database 0 is safe.
TESTING = "PYTEST_VERSION" in os.environ
if TESTING:
    os.environ.setdefault("SECRET_KEY", "confab-test-secret-key-not-for-production-use-0123456789")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
    os.environ.setdefault("SECURE_COOKIES", "0")
    os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
    if os.environ.get("REDIS_URL"):
        _test_db = os.environ.get("CONFAB_TEST_REDIS_DB", "15")
        os.environ["REDIS_URL"] = re.sub(r"/\d*$", "", os.environ["REDIS_URL"].rstrip("/")) + f"/{_test_db}"

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is not set. Set SECRET_KEY, or DEBUG=1 for a development key.")
    SECRET_KEY = "django-insecure-confab-development-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "accounts",
    "chat",
    "presence",
    "uploads",
    "notifications",
    "moderation",
    "ops",
    "integrations",
]

MIDDLEWARE = [
    "core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'confab.sqlite3'}"
# SQLite keeps each thread's connection a minute: the WebSocket side's database threads are long-lived, and
# opening a connection per call (CONN_MAX_AGE=0) cost more than the query.
_CONN_MAX_AGE = env_int("CONN_MAX_AGE", 60 if DATABASE_URL.startswith("sqlite") else 0)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=_CONN_MAX_AGE)}
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 20)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX_SIZE > 0:
    # Django advises a pool under ASGI: without one, CONN_MAX_AGE=0 opens a
    # connection per database_sync_to_async call, and CONN_MAX_AGE>0 keeps one
    # per request thread (measured: PostgreSQL's 100 slots gone in seconds).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env_int("DB_POOL_TIMEOUT", 10),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; the timeout waits for the lock
    # instead of failing at once when two requests write together.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so server processes started by tests share the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / f"test_confab{os.environ.get('CONFAB_TEST_ID', '')}.sqlite3")
    }
else:
    # CONFAB_TEST_ID keeps concurrent test runs on one machine apart.
    DATABASES["default"]["TEST"] = {"NAME": f"test_confab{os.environ.get('CONFAB_TEST_ID', '')}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Database work of the WebSocket side (realtime.database): threads per process (each with its own connection;
# SQLite has one writer, so one thread there), calls admitted at once (more are refused with `unavailable`),
# and how long a caller waits for one before `unavailable`.
_IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DB_THREADS = env_int("DB_THREADS", 1 if _IS_SQLITE else 8)
DB_MAX_PENDING = env_int("DB_MAX_PENDING", 2000)
DB_CALL_TIMEOUT = env_float("DB_CALL_TIMEOUT", 10.0)
# Sockets that connect while others' loads run go out together (realtime.database.DatabaseBatches): at most
# this many in one database call, and at most this many such calls at once. 16 rather than 32: no more CPU
# per connect, and a batch's rows held at once left 0.5 KiB more per idle socket (docs/benchmarks.md).
CONNECT_BATCH_SIZE = env_int("CONNECT_BATCH_SIZE", 16)
CONNECT_BATCHES_IN_FLIGHT = env_int("CONNECT_BATCHES_IN_FLIGHT", 2)
# The send path's two statements and the compiled queries (a connect's, a sign-in's) are prepared once per
# PostgreSQL connection (core.compiled).
# Off behind a pooler in transaction mode that does not keep prepared statements (PgBouncer before 1.21).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
if DB_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django switches psycopg's preparing off on the connection (a threshold of None wins over prepare=True).
    # Its own cursors bind on the client and prepare nothing whatever the threshold; only that path asks.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# A streaming replica for reads that may move there (core.replica): history pages, search, room lists, each
# only when the replica has replayed the rows it needs (read-your-writes); all else stays on the primary.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
DATABASE_REPLICA_TIMEOUT = env_float("DATABASE_REPLICA_TIMEOUT", 2.0)
DATABASE_REPLICA_RETRY_SECONDS = env_float("DATABASE_REPLICA_RETRY_SECONDS", 30.0)
DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
if DATABASE_REPLICA_URL:
    if _IS_SQLITE:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs PostgreSQL (DATABASE_URL=postgres://...).")
    DATABASES["replica"] = replica_database(
        DATABASES["default"], DATABASE_REPLICA_URL, DATABASE_REPLICA_TIMEOUT, DB_CALL_TIMEOUT
    )
# Publishing committed events (realtime.publisher): how long one publish may take, and what a process keeps
# to retry while the channel layer is down (events, seconds); clients catch up on the rest by `sync`.
PUBLISH_TIMEOUT = env_float("PUBLISH_TIMEOUT", 2.0)
PUBLISH_RETRY_MAX = env_int("PUBLISH_RETRY_MAX", 10000)
PUBLISH_RETRY_SECONDS = env_float("PUBLISH_RETRY_SECONDS", 30.0)

# --- Redis: channel layer, presence, rate limits, caches -------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CHANNEL_CAPACITY = env_int("CHANNEL_CAPACITY", 1000)
# "pubsub" publishes a room event once per group and each process fans it out
# locally; "core" stores it once per member channel and pops it per recipient
# (measured: 116 vs 165 us of server CPU per delivery). Pub/sub keeps nothing
# for a process that is not listening; clients recover through `sync`.
# "pubsub" is channels_redis's pub/sub layer with direct delivery to the chat
# consumers (config/layers.py); "channels-pubsub" is channels_redis's own.
CHANNEL_LAYER_BACKEND = os.environ.get("CHANNEL_LAYER", "pubsub")  # "pubsub", "channels-pubsub" or "core"
# User groups ("user.<id>") share this many Redis channels on the pub/sub layer
# (realtime.layers._FanOutLoopLayer._bucket_of): a connect no longer subscribes to a channel of its own
# user's, a tenth of its server CPU (docs/benchmarks.md); a process hears the user events of the buckets it
# follows. 0: a channel per user, as channels_redis does.
USER_GROUP_BUCKETS = env_int("USER_GROUP_BUCKETS", 1024)
if USER_GROUP_BUCKETS < 0:
    raise ImproperlyConfigured("USER_GROUP_BUCKETS must be a whole number: 0 (a channel per user) or more.")
if REDIS_URL:
    _layer_backend = {
        "core": "channels_redis.core.RedisChannelLayer",
        "pubsub": "realtime.layers.RedisFanOutChannelLayer",
        "channels-pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    }[CHANNEL_LAYER_BACKEND]
    if REDIS_URL.startswith("redis+cluster://"):
        # A Redis Cluster: sharded pub/sub, each room's channel on the shard of its slot (realtime/cluster.py).
        if CHANNEL_LAYER_BACKEND != "pubsub":
            raise ImproperlyConfigured("REDIS_URL=redis+cluster://... works with CHANNEL_LAYER=pubsub only.")
        _layer_backend = "realtime.cluster.RedisClusterFanOutChannelLayer"
    _layer_config: dict = {"hosts": [REDIS_URL]}
    if CHANNEL_LAYER_BACKEND == "pubsub" and USER_GROUP_BUCKETS:
        _layer_config["group_buckets"] = {"user.": USER_GROUP_BUCKETS}  # core.publishing.user_group's names
    if TESTING:
        # Redis pub/sub ignores database numbers: keep concurrent test runs' groups apart.
        _layer_config["prefix"] = "asgi" + os.environ.get("CONFAB_TEST_ID", "")
    if CHANNEL_LAYER_BACKEND == "core":
        _layer_config.update(capacity=CHANNEL_CAPACITY, expiry=60, group_expiry=86400)
    CHANNEL_LAYERS = {"default": {"BACKEND": _layer_backend, "CONFIG": _layer_config}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "confab",
        }
    }
    if REDIS_URL.startswith("redis+cluster://"):
        # Django's RedisCache cannot talk to a cluster, and Confab keeps nothing shared in Django's cache
        # (its Redis stores go through core.redis): a per-process cache loses nothing.
        CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "realtime.layers.LocalChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY, "expiry": 60},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The database thread releases the GIL on every query round trip and must win
# it back from a busy event loop, which keeps it up to this long each time
# (5 ms by default): measured, the send path kept up at 0.5 ms and not at 5.
GIL_SWITCH_INTERVAL = float(os.environ.get("GIL_SWITCH_INTERVAL", "0.0005"))

# The cyclic collector's thresholds (``gc.set_threshold``): a young collection every 700 allocations (as
# Python's), a middle one every 10 young ones, and a full one every 100 middle ones, not 10. Objects of
# the process's sockets live as long as they do; with Python's 10, the heap's growth as sockets opened
# set off a full collection every quarter it grew (measured, 5,000 connects: 7 of about 50 ms each, 5.9 %
# of the server's CPU in the collector; at 100: none, 3.5 %). A full collection now waits for about
# 700,000 allocations as well as for that growth, so cycles that outlived two younger collections (a
# closed socket's) wait longer for it; young pauses stay as short as Python's (a young threshold of
# 10,000 saved a point more, but its 6 ms pauses showed in the fan-out's p99).
_gc_thresholds = env_list("GC_THRESHOLDS", ["700", "10", "100"])
# Anything but a whole number reads as 0, which the check below refuses with the rest.
GC_THRESHOLDS = tuple(int(part) if part.isdigit() else 0 for part in _gc_thresholds)
if len(GC_THRESHOLDS) != 3 or min(GC_THRESHOLDS) < 1:
    raise ImproperlyConfigured(
        "GC_THRESHOLDS must be three whole numbers of at least 1, e.g. 700,10,100 (0 would switch the cyclic "
        "collector off)."
    )

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Self-registration; when closed (the default unless DEBUG), only a live server invitation
# (accounts.models.ServerInvite, made by staff) lets a visitor register.
REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", default=DEBUG)
# Sign-in throttling (API token endpoint, sign-in page, admin sign-in; a wrong old password on a password change
# counts too): after this many failures within LOGIN_FAILURE_WINDOW seconds, per username and per client address,
# attempts are refused with 429 until the oldest failure leaves the window. 0 turns a limit off.
LOGIN_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", 5)
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 20)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 300)  # seconds
REGISTRATIONS_PER_IP_PER_HOUR = env_int("REGISTRATIONS_PER_IP_PER_HOUR", 10)  # accounts created per address
# The client address is REMOTE_ADDR (a reverse proxy must pass the client's there); with this on, the last
# X-Forwarded-For entry instead. Only behind a proxy that sets that header, or clients choose their own address.
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", default=False)
# Password reset mails: printed to the console unless an SMTP server is configured.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Confab <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 3600)  # seconds a reset link works
if TESTING:
    # Hashing a password costs ~0.2 s by design; tests create hundreds of users.
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # still verifies real hashes
    ]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Chat rules -----------------------------------------------------------
RATE_LIMIT_MESSAGES = env_int("RATE_LIMIT_MESSAGES", 20)  # sends per window per user
RATE_LIMIT_WINDOW = env_int("RATE_LIMIT_WINDOW", 60)  # seconds
# Every other state change has a budget of its own (core/ratelimit.py BUDGETS): at most N per window
# (seconds) per user; 0 switches one off.
RATE_LIMIT_EDITS = env_int("RATE_LIMIT_EDITS", 30)
RATE_LIMIT_EDITS_WINDOW = env_int("RATE_LIMIT_EDITS_WINDOW", 60)
RATE_LIMIT_REACTIONS = env_int("RATE_LIMIT_REACTIONS", 60)  # adds and removes
RATE_LIMIT_REACTIONS_WINDOW = env_int("RATE_LIMIT_REACTIONS_WINDOW", 60)
RATE_LIMIT_PINS = env_int("RATE_LIMIT_PINS", 20)  # pins and unpins
RATE_LIMIT_PINS_WINDOW = env_int("RATE_LIMIT_PINS_WINDOW", 60)
RATE_LIMIT_STATUS = env_int("RATE_LIMIT_STATUS", 10)  # update_status / PATCH presence/me/
RATE_LIMIT_STATUS_WINDOW = env_int("RATE_LIMIT_STATUS_WINDOW", 60)
RATE_LIMIT_ROOMS = env_int("RATE_LIMIT_ROOMS", 10)  # new group rooms and new direct rooms
RATE_LIMIT_ROOMS_WINDOW = env_int("RATE_LIMIT_ROOMS_WINDOW", 3600)
RATE_LIMIT_MEMBER_ADDS = env_int("RATE_LIMIT_MEMBER_ADDS", 100)  # people added, also as a new room's members
RATE_LIMIT_MEMBER_ADDS_WINDOW = env_int("RATE_LIMIT_MEMBER_ADDS_WINDOW", 3600)
RATE_LIMIT_ROLE_CHANGES = env_int("RATE_LIMIT_ROLE_CHANGES", 60)  # members made admins and admins made members
RATE_LIMIT_ROLE_CHANGES_WINDOW = env_int("RATE_LIMIT_ROLE_CHANGES_WINDOW", 3600)
RATE_LIMIT_REPORTS = env_int("RATE_LIMIT_REPORTS", 10)
RATE_LIMIT_REPORTS_WINDOW = env_int("RATE_LIMIT_REPORTS_WINDOW", 3600)
# Moderators' restores, mutes and unmutes (in the chat and in the admin), per moderator.
RATE_LIMIT_MODERATION = env_int("RATE_LIMIT_MODERATION", 100)
RATE_LIMIT_MODERATION_WINDOW = env_int("RATE_LIMIT_MODERATION_WINDOW", 600)
RATE_LIMIT_ROOM_MENTIONS = env_int("RATE_LIMIT_ROOM_MENTIONS", 5)  # messages and edits that notify @room/@here
RATE_LIMIT_ROOM_MENTIONS_WINDOW = env_int("RATE_LIMIT_ROOM_MENTIONS_WINDOW", 3600)
# Room invitations (chat/actions/invites.py): links made, revoked, and accepted, per user.
RATE_LIMIT_INVITES = env_int("RATE_LIMIT_INVITES", 30)
RATE_LIMIT_INVITES_WINDOW = env_int("RATE_LIMIT_INVITES_WINDOW", 3600)
RATE_LIMIT_INVITE_REVOKES = env_int("RATE_LIMIT_INVITE_REVOKES", 60)
RATE_LIMIT_INVITE_REVOKES_WINDOW = env_int("RATE_LIMIT_INVITE_REVOKES_WINDOW", 3600)
RATE_LIMIT_INVITE_ACCEPTS = env_int("RATE_LIMIT_INVITE_ACCEPTS", 20)
RATE_LIMIT_INVITE_ACCEPTS_WINDOW = env_int("RATE_LIMIT_INVITE_ACCEPTS_WINDOW", 3600)
# A room has at most this many live invitations (the admins' list is bounded by it).
ROOM_INVITES_LIVE_MAX = env_int("ROOM_INVITES_LIVE_MAX", 50)
# Profile changes (display name, avatar: accounts/profile.py), per user.
RATE_LIMIT_PROFILE = env_int("RATE_LIMIT_PROFILE", 10)
RATE_LIMIT_PROFILE_WINDOW = env_int("RATE_LIMIT_PROFILE_WINDOW", 600)
# Read marks of rooms and threads (a client marks as it scrolls: generous, but bounded), per user.
RATE_LIMIT_READS = env_int("RATE_LIMIT_READS", 600)
RATE_LIMIT_READS_WINDOW = env_int("RATE_LIMIT_READS_WINDOW", 60)
# Following and unfollowing threads, per user.
RATE_LIMIT_FOLLOWS = env_int("RATE_LIMIT_FOLLOWS", 120)
RATE_LIMIT_FOLLOWS_WINDOW = env_int("RATE_LIMIT_FOLLOWS_WINDOW", 600)
# Server invitations made or revoked by staff (API and admin), per user.
RATE_LIMIT_SERVER_INVITES = env_int("RATE_LIMIT_SERVER_INVITES", 30)
RATE_LIMIT_SERVER_INVITES_WINDOW = env_int("RATE_LIMIT_SERVER_INVITES_WINDOW", 3600)
RATE_LIMIT_INTEGRATIONS = env_int("RATE_LIMIT_INTEGRATIONS", 30)  # bots, tokens and webhooks made or renamed
RATE_LIMIT_INTEGRATIONS_WINDOW = env_int("RATE_LIMIT_INTEGRATIONS_WINDOW", 3600)
# At most this many people added at once: a new room's `members`, one call that adds members.
ROOM_MEMBERS_ADD_MAX = env_int("ROOM_MEMBERS_ADD_MAX", 50)
# Off: `GET users/?q=` lists only people who share a room with the caller, plus an exact username;
# on: the whole directory, as a workspace where everybody may find everybody.
USER_DIRECTORY_OPEN = env_bool("USER_DIRECTORY_OPEN", default=False)
MESSAGE_MAX_LENGTH = env_int("MESSAGE_MAX_LENGTH", 10_000)  # characters of raw body
WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 64 * 1024)
# A socket's queue of events not yet written (a client that stopped reading), and how long its writes may
# stall: past either it is closed with 4008 (reconnect and sync) and its memory let go.
WS_BACKLOG_MAX_BYTES = env_int("WS_BACKLOG_MAX_BYTES", 1024 * 1024)
WS_SEND_TIMEOUT = env_float("WS_SEND_TIMEOUT", 15.0)
# Presence events (user_online, user_offline, status_changed) may wait this long before they are written, so
# that those reaching one connection meanwhile go out in one write (realtime.consumer.HeldEvents): each
# write to a socket is a system call, and the co-members' writes were a fifth of a connect's server CPU
# (docs/benchmarks.md). A second, not a quarter: at a quarter the writes still cost about 0.14 ms of a connect
# (1.67 against 1.53 ms with 100-member rooms), and presence a second late is still live (clients
# that poll presence see it a minute late). 0 writes each at once. Other events never wait, and follow the
# held ones in order.
WS_EVENT_HOLD_SECONDS = env_float("WS_EVENT_HOLD_SECONDS", 1.0)
if not 0 <= WS_EVENT_HOLD_SECONDS <= 5:
    raise ImproperlyConfigured("WS_EVENT_HOLD_SECONDS must be between 0 (write at once) and 5 seconds.")
# On SIGTERM, how long requests in flight may take to finish before sockets close with 1012 (realtime.shutdown).
SHUTDOWN_DRAIN_SECONDS = env_float("SHUTDOWN_DRAIN_SECONDS", 10.0)
WS_AUTH_TIMEOUT = env_int("WS_AUTH_TIMEOUT", 10)  # seconds to send `authenticate`
SYNC_MAX_MESSAGES = env_int("SYNC_MAX_MESSAGES", 200)  # per room per `sync`
HISTORY_PAGE_MAX = 100
# The newest messages of each room are served from a cache that is never stale
# (chat/history_cache.py); 0 turns it off. Pages not read for this long expire.
HISTORY_CACHE_SIZE = min(env_int("HISTORY_CACHE_SIZE", HISTORY_PAGE_MAX), HISTORY_PAGE_MAX)
HISTORY_CACHE_SECONDS = env_int("HISTORY_CACHE_SECONDS", 600)
ROOM_MENTION_ADMINS_ONLY = env_bool("ROOM_MENTION_ADMINS_ONLY", default=True)
# Earlier bodies kept per message (GET messages/{id}/edits/); older ones are pruned by the edit that passes it.
MESSAGE_EDITS_KEPT = env_int("MESSAGE_EDITS_KEPT", 100)

# --- Notifications (owned by the notifications app) ------------------------
NOTIFICATIONS_RETENTION_DAYS = env_int("NOTIFICATIONS_RETENTION_DAYS", 30)

# --- Moderation and maintenance (owned by the moderation app) --------------
MESSAGE_RETENTION_DAYS = env_int("MESSAGE_RETENTION_DAYS", 30)  # soft-deleted messages kept this long

# --- Presence and typing --------------------------------------------------
PRESENCE_TTL = env_int("PRESENCE_TTL", 60)  # a connection unseen this long is gone
PRESENCE_HEARTBEAT = env_int("PRESENCE_HEARTBEAT", 20)
PRESENCE_LAST_SEEN_WRITE_INTERVAL = env_int("PRESENCE_LAST_SEEN_WRITE_INTERVAL", 60)
TYPING_TTL = env_int("TYPING_TTL", 5)

# --- Uploads and storage --------------------------------------------------
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000)
UPLOAD_IMAGE_MAX_SIDE = 2000
UPLOAD_THUMBNAIL_SIDE = 300
UPLOAD_UNATTACHED_GRACE_HOURS = env_int("UPLOAD_UNATTACHED_GRACE_HOURS", 24)
# Bytes a user may upload in any 24 hours (what is stored, removed files included); 0 switches it off.
UPLOAD_QUOTA_BYTES_PER_DAY = env_int("UPLOAD_QUOTA_BYTES_PER_DAY", 200 * 1024 * 1024)
# Upload requests per user per window (seconds), refused or not: each one may cost a decode; 0 switches it off.
RATE_LIMIT_UPLOADS = env_int("RATE_LIMIT_UPLOADS", 30)
RATE_LIMIT_UPLOADS_WINDOW = env_int("RATE_LIMIT_UPLOADS_WINDOW", 600)
# Images decoded at once per process, and uploads that may wait for one of them; past both: 503 `unavailable`.
UPLOAD_IMAGE_WORKERS = env_int("UPLOAD_IMAGE_WORKERS", 2)
UPLOAD_IMAGE_QUEUE = env_int("UPLOAD_IMAGE_QUEUE", 8)
# Pixels of all frames of one image together (frames x width x height), read from the header before decoding:
# an animation is held decoded (4 bytes a pixel) while it is re-encoded, so this bounds its memory.
UPLOAD_MAX_DECODED_PIXELS = env_int("UPLOAD_MAX_DECODED_PIXELS", 50_000_000)
# Bodies above this are spooled to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve straight from static/ when nothing was collected (development, tests).
WHITENOISE_USE_FINDERS = DEBUG or TESTING
STATICFILES_DIRS = [BASE_DIR / "static"]
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- REST -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First: a bearer value with the bot-token prefix (cfb_) is a bot's; any other goes on to SimpleJWT.
        "integrations.authentication.BotTokenAuthentication",
        "accounts.authentication.RevocableJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.rest.exception_handler",
    # DRF's defaults, with JSON bodies bounded in nesting depth (JSON_MAX_DEPTH).
    "DEFAULT_PARSER_CLASSES": [
        "core.rest.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# How deeply arrays and objects may nest in a REST body or a WebSocket frame (parsers recurse per level).
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry the user's generation and their session; both are checked on every use (accounts.authentication).
    "TOKEN_OBTAIN_SERIALIZER": "accounts.api.TokenObtainSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.api.TokenRefreshSerializer",
    # SimpleJWT's access token with a faster check of the tokens this server signs (accounts.tokens).
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.AccessToken",),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Confab API",
    "DESCRIPTION": "Rooms, history, uploads, search and notifications. See docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the pinned drf-spectacular-sidecar package's static files, not a CDN (CSP).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RoomKindEnum": "chat.models.Room.Kind",
        "MessageKindEnum": "chat.models.Message.Kind",
        "RoleEnum": "chat.models.RoomMember.Role",
        "SettableRoleEnum": "chat.schema.SETTABLE_ROLES",
        "NotifyLevelEnum": "chat.models.RoomMember.NotifyLevel",
        "PresenceStatusEnum": "presence.models.Presence.Status",
    },
}

# --- Security -------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Deployments behind a TLS proxy redirect at the proxy; say so to `check --deploy`.
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS", [])

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "core.logs.JsonFormatter"},
        "text": {"format": "%(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            # LOG_FORMAT=json: one JSON object per line (core/logs.py), for log shippers.
            "formatter": "json" if os.environ.get("LOG_FORMAT", "text") == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
# The Prometheus endpoint /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off (404).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")


# --- Integrations (integrations/, docs/protocol.md "Bots and tokens" and after) ----------------
BOTS_PER_USER_MAX = env_int("BOTS_PER_USER_MAX", 20)
BOT_TOKENS_PER_BOT_MAX = env_int("BOT_TOKENS_PER_BOT_MAX", 10)  # live (unrevoked) tokens per bot
WEBHOOKS_PER_ROOM_MAX = env_int("WEBHOOKS_PER_ROOM_MAX", 20)  # live incoming; live outgoing and commands
# Outgoing webhooks: each POST may take this long (connect and answer), is tried this many times in all,
# waiting BACKOFF, 2 x BACKOFF, 4 x BACKOFF... seconds between tries, then given up (recorded as failed).
OUTGOING_WEBHOOK_TIMEOUT = env_float("OUTGOING_WEBHOOK_TIMEOUT", 5.0)
OUTGOING_WEBHOOK_MAX_ATTEMPTS = env_int("OUTGOING_WEBHOOK_MAX_ATTEMPTS", 5)
OUTGOING_WEBHOOK_BACKOFF = env_float("OUTGOING_WEBHOOK_BACKOFF", 10.0)
# At most this many deliveries wait per webhook; a newer one is not queued but counted (`dropped`).
OUTGOING_WEBHOOK_PENDING_MAX = env_int("OUTGOING_WEBHOOK_PENDING_MAX", 100)
OUTGOING_WEBHOOK_RESPONSE_MAX_BYTES = env_int("OUTGOING_WEBHOOK_RESPONSE_MAX_BYTES", 64 * 1024)
# Off (production): no POST to a loopback, private, link-local or reserved address (any room admin registers
# URLs, and Confab must not become their way into the internal network). On by default with DEBUG only.
OUTGOING_WEBHOOK_ALLOW_PRIVATE = env_bool("OUTGOING_WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
# How often an idle worker looks for new messages and due deliveries (seconds).
WEBHOOK_WORKER_POLL_SECONDS = env_float("WEBHOOK_WORKER_POLL_SECONDS", 1.0)
# On: the ASGI app runs the delivery worker in a thread of its own (one process serves everything, as
# `make run`); off: run `manage.py run_webhook_worker` beside the servers.
WEBHOOK_WORKER_IN_PROCESS = env_bool("WEBHOOK_WORKER_IN_PROCESS", default=False)
