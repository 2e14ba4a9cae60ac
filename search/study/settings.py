"""What makes the trials of one study comparable, stored with the study when it is created.

Resuming a study with different settings is refused, so every trial of a study is comparable.
"""

from __future__ import annotations

from typing import Any

import optuna
from pydantic import BaseModel, ConfigDict

from search.training.run_config import RunConfig
from space.spec import SpaceSpec

SETTINGS_ATTR = "hourglass_settings"
# What a study keeps from its creation whatever a later run brings: the model's shape and the
# training recipe, so that a changed preset default never changes an existing study's trials. The
# token budget and deterministic kernels are asked for on the command line and must agree.
_KEPT = ("base.model.", "base.params", "base.train.")
_ASKED = ("base.train.tokens", "base.train.deterministic")
# Paths as typed change from run to run (relative, absolute, another folder) while the text stays
# the same, so a study's data is compared by the token cache's content hash, not by its paths.
_DATA_PATHS = ("train", "val", "tokenizer")
# A study's objective: the built-in trainer, or a user's ``module:function``.
BUILTIN_OBJECTIVE = "builtin"


class StudySettings(BaseModel):
    """What makes trials of one study comparable; stored with the study when it is created."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str
    space: SpaceSpec
    objective: str
    base: RunConfig

    def comparable(self) -> dict[str, Any]:
        """The settings without what may change between runs of a study: code commit, version and
        the data's paths (its content is compared through the provenance's hashes)."""
        data = self.model_dump(mode="json")
        provenance = data["base"].get("provenance") or {}
        for key in ("commit", "hourglass_version"):
            provenance.pop(key, None)
        for key in _DATA_PATHS:
            data["base"]["data"].pop(key)
        return data

    def differences(self, other: StudySettings) -> list[tuple[str, Any, Any]]:
        """(field path, this value, other value) wherever the comparable settings differ."""
        return sorted(_differences(self.comparable(), other.comparable()))

    def conflicts(self, asked: StudySettings) -> list[tuple[str, Any, Any]]:
        """The differences that make ``asked`` another study: all but the kept model and recipe.
        When ``asked`` has no provenance yet (its data not prepared), its data is not compared."""
        prepared = asked.base.provenance is not None
        return [d for d in self.differences(asked) if not _kept(d[0]) and (prepared or not _provenance(d[0]))]

    def kept(self, asked: StudySettings) -> list[tuple[str, Any, Any]]:
        """The differences this study keeps its own values for (the model and the recipe)."""
        return [d for d in self.differences(asked) if _kept(d[0])]


def _kept(path: str) -> bool:
    return path.startswith(_KEPT) and path not in _ASKED


def _provenance(path: str) -> bool:
    return path == "base.provenance" or path.startswith("base.provenance.")


def _differences(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            found += _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return found
    return [] if old == new else [(path, old, new)]


def study_settings(study: optuna.Study) -> StudySettings:
    """The settings a study was created with; ValueError for a study not made by Hourglass."""
    data = study.user_attrs.get(SETTINGS_ATTR)
    if data is None:
        raise ValueError(f"study '{study.study_name}' was not made by Hourglass; choose another --study")
    return StudySettings.model_validate(data)


def store_settings(study: optuna.Study, settings: StudySettings) -> None:
    """Record the settings with a study just created."""
    study.set_user_attr(SETTINGS_ATTR, settings.model_dump(mode="json"))
