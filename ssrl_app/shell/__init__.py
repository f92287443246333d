"""The app's frame and what several pages share: session state, page opening, sidebar, loaders,
errors, the cell selection, and display helpers (charts, images, figures, labels)."""
