"""Quire: turns book manuscripts into EPUB 3 books and offline web-app books.

The package is the app's own code; `function_app.py` wires Azure Functions triggers to it.
"""
