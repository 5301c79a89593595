"""A stand-in for `func start`: runs function_app.py the way the Azure Functions host does.

A development tool only (listed in .funcignore, never deployed); the app never imports it.
The behaviour it copies, with sources, is summarised in docs/devhost.md.
"""
