"""The Bias page's own widgets: which classes a recipe favours (the paper's section 3.1)."""
