"""A Flask view returning two bytes, served by waitress as ``appliance web`` serves the EMR.

Its round trip is what any page of ours costs before doing anything (HTTP parsing, waitress's
thread hand-off, Flask's request context): the bench reports it next to the SQLite floor so the
web layer's own share of a search can be read off.
"""

from __future__ import annotations

import sys

from flask import Flask
from waitress import serve

app = Flask(__name__)


@app.get("/")
def bare() -> str:
    return "ok"


if __name__ == "__main__":
    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]), ident="appliance",
          clear_untrusted_proxy_headers=True, channel_timeout=60, _quiet=True)
