"""Security headers on every reply: what a browser on the clinic's WiFi may run, frame and keep.

- Content-Security-Policy: scripts, styles and images from the box only, no inline script or
  handler (templates use static files: babies.js, print.js), no framing (frame-ancestors), forms
  posted only to the box; ``tests/security/test_headers.py`` keeps the templates free of inline code;
- nosniff, so an uploaded CSV is never run as a script; no Referer to other sites;
- ``Cache-Control: no-store`` on every page (static files excepted): a shared phone's back button
  or cache must not show a chart or a temporary password after logout.
"""

from __future__ import annotations

from flask import Flask, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _add_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static" and "Cache-Control" not in headers:  # a view may say better (charts)
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def install(app: Flask) -> None:
    app.after_request(_add_headers)
