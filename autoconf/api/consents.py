"""Consent per recording: record, list, withdraw (API)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["consents"])
