"""Catalog entries of augmentation steps, and the validation of their parameters.

A recipe is plain data (Bendidi et al. 2024, section 3: the transformation composition is the
experimental variable), so every parameter a user can set is a `ssrl_core.params.Param` with a
type, a valid range and a default. The app draws one control per `Param`; `Param.problem(name, value)` turns
a wrong value into a plain-words problem (in the recipe's wording) instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ssrl_core.params import Param, defaults


class RecipeError(ValueError):
    """An invalid recipe: the message lists every problem found, one per line."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        head = "The augmentation recipe has a problem:" if len(self.problems) == 1 else (
            f"The augmentation recipe has {len(self.problems)} problems:")
        super().__init__(head + "\n" + "\n".join(f"- {p}" for p in self.problems))


@dataclass(frozen=True)
class TransformSpec:
    """A catalog entry: what the transform does, in plain words, and its parameters.

    `build(params, height, width, channels)` returns the albumentations transforms for one
    step and the image size after it; `say(params)` is a short phrase used by `describe`.
    """

    name: str
    title: str
    description: str
    params: dict[str, Param]
    build: Callable[..., tuple[list, tuple[int, int]]] = field(repr=False, compare=False)
    say: Callable[[dict[str, Any]], str] = field(repr=False, compare=False)
    default_p: float = 1.0
    needs_rgb: bool = False
    min_channels: int = 1

    def defaults(self) -> dict[str, Any]:
        """A fresh dict of default parameter values."""
        return defaults(self.params)
