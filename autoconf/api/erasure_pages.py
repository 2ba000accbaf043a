"""The erasure pages: what will go, confirmed by typing the code."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
