"""Every setting, declared once: a field of `Settings` with its type, default and description.

pydantic-settings reads them. Precedence, lowest first: the default here, the
config file (TOML, a `[jixiao]` table or top-level keys; path from
`JIXIAO_CONFIG`, else `./jixiao.toml` when present), the environment variable
`JIXIAO_<NAME>`, then keyword overrides to `load_settings` (the CLI's `--db`,
`--engine`). Values are checked once, at load: a wrong one is a `JixiaoError`
naming the setting, not a crash later in a worker. `SETTINGS` (for
`jixiao settings` and docs/settings.md, which a test keeps in step) is read
off the model's fields, so nothing is declared twice.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from service.errors import JixiaoError
from service.fields import FIELDS

ENV_PREFIX = "JIXIAO_"
CONFIG_VAR = "JIXIAO_CONFIG"
DEFAULT_CONFIG = "jixiao.toml"

Amount = int | float  # sizes and durations: a fraction is fine ("0.5" seconds, "0.01" MB in tests)


class FieldThresholds(dict[str, float]):
    """accept_at_fields once parsed: field key -> threshold. Prints in the form it is written in."""

    def __str__(self) -> str:
        return ",".join(f"{key}={value:g}" for key, value in self.items())


def _threshold_keys() -> set[str]:
    from service.check.rows import THRESHOLD_KEY  # late: the row checks import much that needs no settings

    return {f.key for f in FIELDS} | {THRESHOLD_KEY}


def _threshold_item(item: str) -> tuple[str, float]:
    name, equals, value = item.partition("=")
    try:
        if not equals:
            raise ValueError(item)
        return name.strip(), float(value)
    except ValueError:
        raise ValueError(f"“{item.strip()}”不是有效的阈值（应写成 字段=阈值）") from None


def parse_thresholds(raw: Any) -> Any:
    """"self_score=0.9,unit_name=0.7" (or a TOML table) -> {key: threshold}, each key a known field."""
    if isinstance(raw, str):
        raw = dict(_threshold_item(item) for item in raw.split(",") if item.strip())
    if isinstance(raw, Mapping):
        unknown = sorted(set(raw) - _threshold_keys())
        if unknown:
            raise ValueError(f"不是已知的字段：{'、'.join(unknown)}")
    return raw


Thresholds = Annotated[dict[str, float], NoDecode, BeforeValidator(parse_thresholds), AfterValidator(FieldThresholds)]

# The environment the sources read while a Settings is built; None: no outside source (replace()).
_outside: ContextVar[Mapping[str, str] | None] = ContextVar("jixiao_settings_outside", default=os.environ)


class _Environment(EnvSettingsSource):
    """JIXIAO_* variables from a given mapping: `load_settings(env={})` ignores the real environment."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _config_path(environ: Mapping[str, str]) -> Path:
    """The file named by JIXIAO_CONFIG (it must exist), else ./jixiao.toml (read when present)."""
    if CONFIG_VAR not in environ:
        return Path(DEFAULT_CONFIG)
    path = Path(environ[CONFIG_VAR])
    if not path.is_file():
        raise JixiaoError(f"找不到配置文件：{path}")
    return path


class _ConfigFile(TomlConfigSettingsSource):
    """The TOML config file: a [jixiao] table or top-level keys. Unreadable, or an unknown key: a JixiaoError."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path):
        super().__init__(settings_cls, toml_file=path)
        unknown = sorted(set(self.toml_data) - set(settings_cls.model_fields))
        if unknown:
            raise JixiaoError(f"配置文件 {path} 中有未知的配置项：{'、'.join(unknown)}")

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        try:
            data = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise JixiaoError(f"配置文件 {file_path} 无法解析：{e}") from None
        return data.get("jixiao", data)


EngineChoice = Literal["auto", "rules", "llm"]
ENGINE_CHOICES: tuple[str, ...] = get_args(EngineChoice)


class Settings(BaseSettings):
    """The values in force. Frozen: change one with `replace`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True,
                                      coerce_numbers_to_str=True)

    db: str = Field("./jixiao.db", description="SQLite database file")
    instance: str = Field("./instance", description="folder for the web app's secret key and the uploaded files")
    job_lease_s: Amount = Field(900, description="a job claimed longer ago than this (its worker died) is queued "
                                "again, in seconds")
    job_max_attempts: int = Field(3, description="a job claimed this many times without finishing is parked as failed")
    job_timeout_s: Amount = Field(1800, description="time limit for extracting one document (its child process is "
                                  "stopped), in seconds")
    job_memory_mb: Amount = Field(4096, description="memory limit of the child process extracting one document, in MB")
    lanes: str = Field("text,scan", description="worker lanes run by jixiao serve: text (text files, .docx, text PDFs) "
                       "and scan (images, image-only PDFs), each its own worker, so a long scan never holds up a "
                       "text report")
    worker_processes: int = Field(1, ge=1, le=64, description="documents a worker host extracts at once, each in "
                                  "its own process (jixiao worker --processes; jixiao serve's scan lane)")
    broker_url: str = Field("", description="Redis URL of the remote queue, e.g. redis://host:6379/0: worker hosts "
                            "extract (jixiao remote worker), this host dispatches and stores (jixiao remote "
                            "dispatch); empty: the embedded SQLite queue only")
    remote_in_flight: int = Field(16, ge=1, le=10000, description="jobs the dispatcher keeps sent to worker hosts at "
                                  "once; the rest wait in the SQLite queue (排队中)")
    remote_heartbeat_s: Amount = Field(60, ge=2, description="a worker host silent this long is taken for dead and "
                                       "its tasks go to another host, in seconds (the same on every host)")
    max_upload_mb: Amount = Field(50, description="largest input file accepted, in MB")
    max_unpacked_mb: Amount = Field(200, description="largest total unpacked size of a .docx (zip bomb guard), in MB")
    max_pages: int = Field(300, description="most pages of one PDF accepted (checked before any page is decoded)")
    max_image_mpx: Amount = Field(60, description="largest image or rendered page accepted, in megapixels (checked "
                                  "before decoding)")
    ocr: bool = Field(True, description="OCR scanned pages and images (off: such files are rejected with a message)")
    ocr_dpi: int = Field(200, description="resolution at which image-only PDF pages are rendered for OCR")
    ocr_threads: int = Field(0, ge=0, le=256, description="threads one OCR process runs (onnxruntime, OpenCV); 0: "
                             "the cores divided by worker_processes, at least 1")
    ocr_mode: Literal["full", "fast"] = Field("full", description="OCR recognition: full (PP-OCRv6 small model on "
                                              "every line) or fast (tiny model, doubtful lines re-read by the "
                                              "small one)")
    ocr_review_below: float = Field(0.90, description="OCR line confidence under which values read from that line "
                                    "go to review")
    soffice: str = Field("soffice", description="LibreOffice executable used to convert legacy .doc/.wps files")
    convert_timeout_s: Amount = Field(120, description="time limit for one LibreOffice conversion, in seconds")
    cross_year_spending_change: float = Field(0.5, ge=0, description="a unit's 全年执行数 further than this share "
                                              "from the mean of its earlier years' confirmed records is named on the "
                                              "overview (0.5: half)")
    accept_at: float = Field(0.8, description="confidence at which a re-checked value is accepted without review")
    accept_at_fields: Thresholds = Field(default_factory=FieldThresholds, description="per-field thresholds "
                                         "overriding accept_at, e.g. self_score=0.9,unit_name=0.7")
    session_secure: bool = Field(False, description="send the session cookie only over HTTPS (turn on behind TLS)")
    session_lifetime_min: Amount = Field(720, description="a log-in ends after this many minutes, in minutes")
    login_max_failures: int = Field(5, description="wrong passwords in a row, per user name or per address, before "
                                    "log-in waits")
    web_workers: int = Field(2, ge=1, le=64, description="web server processes of jixiao serve (gunicorn workers)")
    web_threads: int = Field(4, ge=1, le=256, description="request threads per web server process")
    proxy_hops: int = Field(0, description="reverse proxies in front of jixiao serve whose X-Forwarded-For/-Proto "
                            "are trusted")
    login_lockout_s: Amount = Field(300, description="how long log-in is refused after login_max_failures wrong "
                                    "passwords, in seconds")
    engine: EngineChoice = Field("auto", description="extraction engine: auto (llm when an "
                                                    "endpoint is configured, else rules), rules or llm")
    model: str = Field("", description="LLM model name at the OpenAI-compatible endpoint (OPENAI_BASE_URL, "
                       "OPENAI_API_KEY)")
    llm_mode: Literal["tools", "json", "md_json"] = Field("tools", description="how instructor asks for structured "
                                                          "output: tools, json or md_json")
    llm_timeout_s: Amount = Field(60, description="time limit for one LLM request, in seconds")
    llm_deadline_s: Amount = Field(300, description="total time for one LLM call, its retries and Retry-After waits "
                                   "included, in seconds")
    llm_max_answer_kb: Amount = Field(256, description="largest LLM answer read, in KB (a larger one is refused and "
                                      "its fields go to review)")
    llm_concurrency: int = Field(4, description="LLM requests in flight at once, across sections and documents")
    llm_max_retries: int = Field(2, description="re-asks after a response fails validation (quote not in section, …)")
    llm_http_retries: int = Field(4, description="retries, with exponential backoff and jitter, after "
                                  "429/5xx/timeouts")
    llm_price_in_per_1k: float = Field(0.0, description="price per 1000 prompt tokens, for the cost summary")
    llm_price_out_per_1k: float = Field(0.0, description="price per 1000 completion tokens, for the cost summary")
    time_zone: str = Field("Asia/Shanghai", description="IANA time zone in which exports write times (确认时间), "
                           "e.g. Asia/Urumqi")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword values first (they win), then JIXIAO_* variables, then the config file."""
        environ = _outside.get()
        if environ is None:
            return (init_settings,)
        return init_settings, _Environment(settings_cls, environ), _ConfigFile(settings_cls, _config_path(environ))

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_mb * 1024 * 1024)

    def threshold(self, key: str) -> float:
        """The acceptance threshold for one field: its override in accept_at_fields, else accept_at. A job's
        settings carry the thresholds an admin applied on the 校准 page in accept_at_fields, under the keys the
        loaded settings do not name (service.thresholds.with_calibration: a written setting wins)."""
        return self.accept_at_fields.get(key, self.accept_at)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`, checked like loaded values; neither the environment nor the file is read."""
        return _build(None, {**dict(self), **changes})


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


@dataclass(frozen=True)
class Setting:
    """One setting as `jixiao settings` and docs/settings.md show it, read off a field of Settings."""

    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return env_name(self.name)


SETTINGS: list[Setting] = [Setting(name, f.get_default(call_default_factory=True), f.description or "")
                           for name, f in Settings.model_fields.items()]


def _expected(annotation: Any) -> str:
    """What a value of this type must look like, for the message about a wrong one."""
    if annotation is bool:
        return "应为 true 或 false"
    if annotation is int:
        return "应为整数"
    if annotation in (float, Amount):
        return "应为数字"
    if get_origin(annotation) is Literal:
        return "可选：" + "、".join(get_args(annotation))
    if get_origin(annotation) is dict:
        return "应写成 字段=阈值，以逗号分隔"
    return ""


def _problem(error: Mapping[str, Any]) -> str:
    name = str(error["loc"][0])
    why = str(error["ctx"]["error"]) if error["type"] == "value_error" else _expected(
        Settings.model_fields[name].annotation)
    return f"配置项 {name}（{env_name(name)}）的值无效：{error['input']!r}" + (f"，{why}" if why else "")


def _invalid(e: ValidationError) -> JixiaoError:
    """One Chinese line per wrong setting (a union type reports each of its members: one line for all)."""
    problems: dict[Any, str] = {}
    for error in e.errors():
        problems.setdefault(error["loc"][0], _problem(error))
    return JixiaoError("；".join(problems.values()))


def _build(environ: Mapping[str, str] | None, values: dict[str, Any]) -> Settings:
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(unknown)}")
    token = _outside.set(environ)
    try:
        return Settings(**values)
    except ValidationError as e:
        raise _invalid(e) from None
    finally:
        _outside.reset(token)


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the config file, then JIXIAO_* variables (`env`, else the real environment), then
    `overrides` (those that are not None)."""
    return _build(os.environ if env is None else env, {k: v for k, v in overrides.items() if v is not None})
