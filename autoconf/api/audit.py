"""The audit log (administrators): API, page and CSV."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["audit"])
