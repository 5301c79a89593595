"""A stand-in for `func start`: runs function_app.py the way the Azure Functions host does.

A development tool only (listed in .funcignore, never deployed); the app never imports it.
The behaviour it copies is listed in docs/architecture.md ("The stand-in host") and proven by tests/e2e/test_devhost.py.
"""
