"""The Augment page's own widgets: the recipe editor, what a recipe keeps, the advisor."""
