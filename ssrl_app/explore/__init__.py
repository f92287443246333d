"""The Explore page's own widgets: checkpoint cards, why two groups differ, hand labels."""
