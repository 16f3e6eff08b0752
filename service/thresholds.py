"""The acceptance threshold in force for each field key, and where it comes from.

Precedence, highest first:
1. `accept_at_fields` set for the key (environment, TOML or keyword): written down by whoever runs the
   service, so it is meant, and it wins over anything learned;
2. a calibration an admin applied on the 校准 page (table `threshold_changes`, read by the store);
3. `accept_at` (its default 0.8, or as set).

Settings stay what they are (frozen, read at load); a job is extracted with `with_calibration(settings,
applied)`, a copy whose `accept_at_fields` holds the applied calibrations under the keys the settings do not
name, so that `Settings.threshold(key)` gives the value in force wherever the settings travel (the
extraction child, a remote worker host).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.fields import FIELDS
from service.settings import Settings

DEFAULT_ACCEPT_AT = Settings.model_fields["accept_at"].default


def threshold_keys() -> list[str]:
    """The keys a threshold governs, in the review page's order: every field, then `indicators`."""
    from service.check.rows import THRESHOLD_KEY  # late: the row checks import much that needs no settings

    return [f.key for f in FIELDS] + [THRESHOLD_KEY]


@dataclass(frozen=True)
class InForce:
    """A key's threshold in force: its value, its source (`field_setting`, `calibration`, `setting`,
    `default`), the source as users read it, and an applied calibration that accept_at_fields overrides."""

    key: str
    value: float
    source: str
    label: str
    overridden: float | None = None


def calibration_label(applied: Mapping[str, Any], day: str) -> str:
    return f"校准（{applied['user_name']} {day} 应用）"


def in_force(settings: Settings, applied: Mapping[str, Mapping[str, Any]], key: str, day=lambda at: at[:10]) -> InForce:
    """Key `key`'s threshold under `settings` and the `applied` calibrations (key -> {threshold, user_name,
    at}); `day(at)` writes the day a calibration was applied (the deployment's time zone)."""
    calibrated = applied.get(key)
    if key in settings.accept_at_fields:
        return InForce(key, settings.accept_at_fields[key], "field_setting", "配置项 accept_at_fields",
                       calibrated["threshold"] if calibrated else None)
    if calibrated is not None:
        return InForce(key, calibrated["threshold"], "calibration", calibration_label(calibrated, day(calibrated["at"])))
    if settings.accept_at != DEFAULT_ACCEPT_AT:
        return InForce(key, settings.accept_at, "setting", "配置项 accept_at")
    return InForce(key, settings.accept_at, "default", "默认（accept_at）")


def with_calibration(settings: Settings, applied: Mapping[str, Mapping[str, Any]]) -> Settings:
    """`settings` with the applied calibrations in force: each in `accept_at_fields` unless that names its key."""
    known = set(threshold_keys())  # a key no field has any more (a field renamed since) is passed over
    learned = {k: a["threshold"] for k, a in applied.items() if k in known and k not in settings.accept_at_fields}
    if not learned:
        return settings
    return settings.replace(accept_at_fields={**learned, **settings.accept_at_fields})


def for_jobs(settings: Settings, store) -> Settings:
    """The settings a job is extracted with: `settings` and the calibrations applied in `store` now."""
    return with_calibration(settings, store.applied_thresholds())
