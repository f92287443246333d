"""Augmentation recipes: catalog, Recipe (YAML), view makers and presets (Bendidi et al. 2024).

See docs/recipes.md for the catalog, the YAML format and the presets.
"""

from .catalog import CATALOG
from .presets import PRESETS, get_preset
from .preview import Preview, judge, make_preview, pair_distances
from .recipe import Recipe, Step, channel_problems, default_step, describe, recipe_problems, step_problems
from .spec import RecipeError, TransformSpec
from .views import TwoViews, ViewMaker, as_unit_float, make_views

__all__ = [
    "CATALOG", "PRESETS", "Preview", "Recipe", "RecipeError", "Step", "TransformSpec", "TwoViews",
    "ViewMaker", "as_unit_float", "channel_problems", "default_step", "describe", "get_preset",
    "judge", "make_preview", "make_views", "pair_distances", "recipe_problems", "step_problems",
]
