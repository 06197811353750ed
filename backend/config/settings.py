"""Settings of the demo project, read from the environment.

Every setting that changes between machines comes from an environment
variable; README.md lists them all. The defaults are safe for production
except two: DEBUG, which `make run` turns on, and SECRET_KEY, which
production must set (`manage.py check --deploy` warns of the stand-in).
"""

import os
import re
from pathlib import Path

import dj_database_url
import django_stubs_ext

from .env import env_bool, env_int, env_list, env_str

# Lets Django's generic classes be subscripted at run time (ModelAdmin[Flow]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", default=False)

# Without one (development, tests), a stand-in useless outside this machine;
# production sets its own, and Django's deployment check knows the stand-in's
# prefix (security.W009).
SECRET_KEY = env_str("SECRET_KEY") or "django-insecure-stand-in-set-SECRET_KEY"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "oauth2_provider",
    "backend.pipeline",
    "backend.accounts",
    "backend.identity",
    "backend.integrations",
    "backend.onboarding",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.config.middleware.DataErrorMiddleware",
]

ROOT_URLCONF = "backend.config.urls"
WSGI_APPLICATION = "backend.config.wsgi.application"
ASGI_APPLICATION = "backend.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        # A persistent connection the database dropped is replaced before
        # a request uses it, rather than failing that request.
        conn_health_checks=True,
    )
}
# Behind a pooler that hands each transaction its own server connection
# (PgBouncer's transaction mode): no server-side cursors, and no prepared
# statements, which the flow store otherwise uses on PostgreSQL.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool(
    "DATABASE_DISABLE_SERVER_SIDE_CURSORS"
)
_lock_timeout = env_int("DATABASE_LOCK_TIMEOUT", 20, minimum=0)
_postgresql_engines = {
    "django.db.backends.postgresql",
    "django.contrib.gis.db.backends.postgis",
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not the in-memory default: tests of concurrent writers need
    # connections that really contend for SQLite's write lock. One per
    # process, so that test runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")}
    # WAL lets readers run beside the single writer; IMMEDIATE transactions
    # take the write lock up front so that a compare-and-set waits for the
    # busy timeout instead of failing on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20, minimum=0),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] in _postgresql_engines:
    # A statement waits this long for a lock (a table locked by hand, a
    # migration), then fails, and the request answers 503 as for SQLite's
    # busy timeout, rather than waiting past gunicorn's own timeout. It is
    # a startup option: it outranks the role's and the database's own
    # settings, libpq then ignores PGOPTIONS (whose options are carried
    # over), and a pooler may refuse it (PgBouncer takes no `options`).
    # So 0 sends nothing and leaves it to the server, as does a pooler, and
    # a `lock_timeout` in the URL's options or PGOPTIONS is kept as it is.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _url_options = str(_options.get("options", ""))
    _pgoptions = os.environ.get("PGOPTIONS", "")
    _given = " ".join(part for part in (_pgoptions, _url_options) if part)
    _pooled = DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"]
    if (
        _lock_timeout
        and not _pooled
        and not re.search(r"(?:^|\s|--|-c)\s*lock[_-]timeout\s*=", _given)
    ):
        _given = f"{_given} -c lock_timeout={_lock_timeout}s".strip()
    if _url_options or _given != _pgoptions:
        _options["options"] = _given

SESSION_ENGINE = "backend.config.sessions"

# Several app servers share sessions, the start throttle's counts and any
# other cache through Redis when REDIS_URL is set; one server needs none.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    SESSION_ENGINE = "backend.config.cache_sessions"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Sessions, CSRF and CORS -------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Served over HTTPS only: plain HTTP is redirected, and browsers told to
# come back over HTTPS alone for this many seconds (HSTS).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "x-csrftoken",
    "x-pipeline-token",
    "x-requested-with",
)
# An app on another origin reads only the headers CORS exposes: those the
# OpenAPI document names (how long to wait after a 429 or 503, the new
# flow's URL, the scheme a 401 asks for).
CORS_EXPOSE_HEADERS = ("retry-after", "location", "www-authenticate")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", CORS_ALLOWED_ORIGINS)

# --- Django REST framework ------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its challenge makes "not logged in" a 401, as it should be.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.pipeline.api.authentication.TokenAuthentication",
        "backend.pipeline.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": ["backend.pipeline.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "backend.pipeline.api.exceptions.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "backend.pipeline.api.negotiation.JSONOnlyNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # How many proxies in front add to X-Forwarded-For: the client's address
    # is the entry the nearest one added. Unset, DRF would take the whole
    # header, which any client can write, as its address (throttles).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Pipelines API",
    "DESCRIPTION": "Server-driven multi-step flows answered as JSON step descriptors.",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backend.pipeline.api.openapi.document_csrf",
        "backend.pipeline.api.openapi.document_headers",
    ],
    "ENUM_NAME_OVERRIDES": {
        "FormKindEnum": ["form"],
        "RedirectKindEnum": ["redirect"],
        "CompleteKindEnum": ["complete"],
        "ErrorKindEnum": ["error"],
        "FlowStatusEnum": "backend.pipeline.state.STATUSES",
    },
}

# --- Pipelines ---------------------------------------------------------------------

PIPELINE_CLASSES = env_list(
    "PIPELINE_CLASSES",
    [
        "backend.onboarding.pipeline.OnboardingPipeline",
        "backend.identity.pipeline.IdentityPipeline",
        "backend.integrations.pipeline.IntegrationPipeline",
    ],
)
PIPELINE_TTL = env_int("PIPELINE_TTL", 3600)
PIPELINE_MAX_BODY_SIZE = env_int("PIPELINE_MAX_BODY_SIZE", 64 * 1024)
PIPELINE_RETURN_TO_ORIGINS = env_list("PIPELINE_RETURN_TO_ORIGINS", CORS_ALLOWED_ORIGINS)
PIPELINE_FRONTEND_URL = env_str("PIPELINE_FRONTEND_URL", "/")
PIPELINE_MAX_STATE_SIZE = env_int("PIPELINE_MAX_STATE_SIZE", 256 * 1024)
PIPELINE_MAX_ACTIVE_FLOWS = env_int("PIPELINE_MAX_ACTIVE_FLOWS", 50)
PIPELINE_START_RATE = env_str("PIPELINE_START_RATE", "60/min") or None
PIPELINE_CALLBACK_TIMEOUT = env_int("PIPELINE_CALLBACK_TIMEOUT", 30)
PIPELINE_STORE = env_str("PIPELINE_STORE", "backend.pipeline.store.DatabaseStore")
PIPELINE_REDIS_URL = env_str("PIPELINE_REDIS_URL", REDIS_URL)
PIPELINE_REDIS_GRACE = env_int("PIPELINE_REDIS_GRACE", 86400)
PIPELINE_REDIS_PREFIX = env_str("PIPELINE_REDIS_PREFIX", "pipeline:")
AUTH_LOGIN_RATE = env_str("AUTH_LOGIN_RATE", "10/min")

# --- Identity providers ------------------------------------------------------------

# A preset is offered once its client id and secret are set.
IDENTITY_PROVIDERS = {
    "github": {
        "client_id": env_str("GITHUB_CLIENT_ID"),
        "client_secret": env_str("GITHUB_CLIENT_SECRET"),
    },
    "slack": {
        "client_id": env_str("SLACK_CLIENT_ID"),
        "client_secret": env_str("SLACK_CLIENT_SECRET"),
    },
    "google": {
        "client_id": env_str("GOOGLE_CLIENT_ID"),
        "client_secret": env_str("GOOGLE_CLIENT_SECRET"),
    },
    # The demo's own OAuth2 server at /o/ (django-oauth-toolkit).
    "local": {
        "enabled": env_bool("LOCAL_OAUTH_ENABLED", default=DEBUG),
        "client_id": env_str("LOCAL_OAUTH_CLIENT_ID", "pipelines-demo"),
        "client_secret": env_str("LOCAL_OAUTH_CLIENT_SECRET", "pipelines-demo-secret"),
        "base_url": env_str("LOCAL_OAUTH_BASE_URL"),
    },
}
IDENTITY_HTTP_TIMEOUT = env_int("IDENTITY_HTTP_TIMEOUT", 10)

# The local OAuth2 server: its users sign in on a page of ours.
OAUTH2_PROVIDER = {
    "SCOPES": {"profile": "Your name and email", "channels": "The channels you are in"},
    "DEFAULT_SCOPES": ["profile"],
    "PKCE_REQUIRED": True,
    # RFC 9700 (OAuth 2.0 Security BCP), ahead of the toolkit's 4.0 defaults:
    # no implicit or password grant, PKCE S256 only, tokens in headers only
    # and stored hashed, the issuer named in the authorization response,
    # a replayed refresh token revoking its family.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Plain-HTTP redirect URIs only where the site itself may be plain HTTP.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if SECURE_SSL_REDIRECT else ["http", "https"],
}
LOGIN_URL = "/accounts/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
