"""The Deals page(s) and their JSON API routes."""

from __future__ import annotations

from fastapi import APIRouter

from unghost.web.api import ERRORS

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
