"""Every setting, declared once: name, default, help.

Precedence, lowest first: the default here, the config file (TOML, a
`[jixiao]` table or top-level keys; path from `JIXIAO_CONFIG`, else
`./jixiao.toml` when present), then the environment variable `JIXIAO_<NAME>`.
`docs/settings.md` documents each one; a test keeps the two in step.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import JixiaoError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "JIXIAO_" + self.name.upper()


SETTINGS: list[Setting] = [
    Setting("db", "./jixiao.db", "SQLite database file"),
    Setting("instance", "./instance", "folder for the web app's secret key and the uploaded files"),
    Setting("job_lease_s", 900, "a job claimed longer ago than this (its worker died) is queued again, in seconds"),
    Setting("job_max_attempts", 3, "a job claimed this many times without finishing is parked as failed"),
    Setting("job_timeout_s", 1800, "time limit for extracting one document (its child process is stopped), in seconds"),
    Setting("job_memory_mb", 4096, "memory limit of the child process extracting one document, in MB"),
    Setting("lanes", "text,scan", "worker lanes run by jixiao serve: text (text files, .docx, text PDFs) and scan "
            "(images, image-only PDFs), each its own worker, so a long scan never holds up a text report"),
    Setting("max_upload_mb", 50, "largest input file accepted, in MB"),
    Setting("max_unpacked_mb", 200, "largest total unpacked size of a .docx (zip bomb guard), in MB"),
    Setting("max_pages", 300, "most pages of one PDF accepted (checked before any page is decoded)"),
    Setting("max_image_mpx", 60, "largest image or rendered page accepted, in megapixels (checked before decoding)"),
    Setting("ocr", True, "OCR scanned pages and images (off: such files are rejected with a message)"),
    Setting("ocr_dpi", 200, "resolution at which image-only PDF pages are rendered for OCR"),
    Setting("ocr_review_below", 0.90, "OCR line confidence under which values read from that line go to review"),
    Setting("soffice", "soffice", "LibreOffice executable used to convert legacy .doc/.wps files"),
    Setting("convert_timeout_s", 120, "time limit for one LibreOffice conversion, in seconds"),
    Setting("accept_at", 0.8, "confidence at which a re-checked value is accepted without review"),
    Setting("accept_at_fields", "", "per-field thresholds overriding accept_at, e.g. self_score=0.9,unit_name=0.7"),
    Setting("session_secure", False, "send the session cookie only over HTTPS (turn on behind TLS)"),
    Setting("session_lifetime_min", 720, "a log-in ends after this many minutes, in minutes"),
    Setting("login_max_failures", 5, "wrong passwords in a row, per user name or per address, before log-in waits"),
    Setting("proxy_hops", 0, "reverse proxies in front of jixiao serve whose X-Forwarded-For/-Proto are trusted"),
    Setting("login_lockout_s", 300, "how long log-in is refused after login_max_failures wrong passwords, in seconds"),
    Setting("engine", "auto", "extraction engine: auto (llm when an endpoint is configured, else rules), rules or llm"),
    Setting("model", "", "LLM model name at the OpenAI-compatible endpoint (OPENAI_BASE_URL, OPENAI_API_KEY)"),
    Setting("llm_mode", "tools", "how instructor asks for structured output: tools, json or md_json"),
    Setting("llm_timeout_s", 60, "time limit for one LLM request, in seconds"),
    Setting("llm_deadline_s", 300, "total time for one LLM call, its retries and Retry-After waits included, in seconds"),
    Setting("llm_max_answer_kb", 256, "largest LLM answer read, in KB (a larger one is refused and its fields go to review)"),
    Setting("llm_concurrency", 4, "LLM requests in flight at once, across sections and documents"),
    Setting("llm_max_retries", 2, "re-asks after a response fails validation (quote not in section, …)"),
    Setting("llm_http_retries", 4, "retries, with exponential backoff and jitter, after 429/5xx/timeouts"),
    Setting("llm_price_in_per_1k", 0.0, "price per 1000 prompt tokens, for the cost summary"),
    Setting("llm_price_out_per_1k", 0.0, "price per 1000 completion tokens, for the cost summary"),
    Setting("time_zone", "Asia/Shanghai", "IANA time zone in which exports write times (确认时间), e.g. Asia/Urumqi"),
]


@dataclass(frozen=True)
class Settings:
    db: str
    instance: str
    job_lease_s: int
    job_max_attempts: int
    job_timeout_s: int
    job_memory_mb: int
    lanes: str
    max_upload_mb: int
    max_unpacked_mb: int
    max_pages: int
    max_image_mpx: int
    ocr: bool
    ocr_dpi: int
    ocr_review_below: float
    soffice: str
    convert_timeout_s: int
    accept_at: float
    accept_at_fields: str
    session_secure: bool
    session_lifetime_min: int
    login_max_failures: int
    proxy_hops: int
    login_lockout_s: int
    engine: str
    model: str
    llm_mode: str
    llm_timeout_s: int
    llm_deadline_s: int
    llm_max_answer_kb: int
    llm_concurrency: int
    llm_max_retries: int
    llm_http_retries: int
    llm_price_in_per_1k: float
    llm_price_out_per_1k: float
    time_zone: str

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_mb * 1024 * 1024)

    def threshold(self, key: str) -> float:
        """The acceptance threshold for one field: its override in accept_at_fields, else accept_at."""
        for item in filter(None, (x.strip() for x in self.accept_at_fields.split(","))):
            name, _, value = item.partition("=")
            if name.strip() == key:
                try:
                    return float(value)
                except ValueError:
                    raise JixiaoError(f"配置项 accept_at_fields 中“{item}”不是有效的阈值") from None
        return self.accept_at

    def replace(self, **changes: Any) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


def _coerce(setting: Setting, raw: Any) -> Any:
    kind = type(setting.default)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    text = str(raw).strip()
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind is int and "." in text:
            return float(text)
        return kind(text)
    except ValueError:
        raise JixiaoError(f"配置项 {setting.name}（{setting.env}）的值无效：{raw!r}") from None


def _config_file(env: dict[str, str]) -> dict[str, Any]:
    path = Path(env.get("JIXIAO_CONFIG", "jixiao.toml"))
    if not path.exists():
        if "JIXIAO_CONFIG" in env:
            raise JixiaoError(f"找不到配置文件：{path}")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise JixiaoError(f"配置文件 {path} 无法解析：{e}") from None
    return data.get("jixiao", data)


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the config file, then JIXIAO_* variables, then explicit overrides."""
    env = dict(os.environ if env is None else env)
    from_file = _config_file(env)
    known = {s.name for s in SETTINGS}
    unknown = sorted(set(from_file) - known)
    if unknown:
        raise JixiaoError(f"配置文件中有未知的配置项：{', '.join(unknown)}")
    values = {}
    for s in SETTINGS:
        raw = s.default
        if s.name in from_file:
            raw = from_file[s.name]
        if s.env in env:
            raw = env[s.env]
        if s.name in overrides and overrides[s.name] is not None:
            raw = overrides[s.name]
        values[s.name] = _coerce(s, raw)
    return Settings(**values)
