"""Erasure of a recording or a whole study, files included (API)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["erasure"])
