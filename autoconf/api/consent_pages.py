"""The recording page's consent forms."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
