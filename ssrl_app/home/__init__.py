"""The Home page's (app.py) own widgets: the one-click recipe-contrast demo."""
