"""The Train page's own widgets: following a run."""
