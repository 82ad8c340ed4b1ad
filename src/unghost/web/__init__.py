"""The web app and JSON API (`unghost serve`)."""

from unghost.web.app import create_app

__all__ = ["create_app"]
