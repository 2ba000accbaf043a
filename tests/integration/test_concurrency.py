"""Many writers at once on SQLite, some hanging up mid-request: every acknowledged write is
stored, nothing deadlocks, and the server still stops cleanly."""

import asyncio
from pathlib import Path

import httpx2 as httpx

from tests.support import researcher_token, serve, study_with_recording


async def _storm(url: str, headers: dict[str, str], recording: int, n: int) -> list[int]:
    """n concurrent creates; half of the clients give up after 5 ms (the server sees them go)."""
    created: list[int] = []

    async def one(i: int) -> None:
        timeout = 0.005 if i % 2 else 30
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout) as client:
            try:
                response = await client.post(
                    f"/api/v1/recordings/{recording}/annotations",
                    json={"start_ms": i * 10, "note": f"storm {i}"},
                )
            except httpx.TimeoutException:
                return
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])

    await asyncio.gather(*(one(i) for i in range(n)))
    return created


async def _readers(
    url: str, headers: dict[str, str], recording: int, ids: list[int], n: int
) -> list[int]:
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=20, limits=limits
    ) as client:

        async def one(i: int) -> int:
            path = (
                f"/api/v1/annotations/{ids[i % len(ids)]}"
                if i % 2
                else f"/api/v1/recordings/{recording}/annotations"
            )
            return (await client.get(path)).status_code

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def test_concurrent_writes_and_hang_ups(tmp_path: Path) -> None:
    headers = researcher_token(tmp_path)
    with serve(tmp_path) as url:
        _, recording = study_with_recording(url, headers)
        for _ in range(3):
            acknowledged = asyncio.run(_storm(url, headers, recording, 120))
            assert len(acknowledged) >= 60
        # Far more concurrent requests than pooled connections: queued, never starved.
        reads = asyncio.run(_readers(url, headers, recording, acknowledged, 200))
        assert reads == [200] * 200
        # Still answering at once, for reads and writes.
        assert httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
        last = httpx.post(
            f"{url}/api/v1/recordings/{recording}/annotations",
            json={"start_ms": 1},
            headers=headers,
            timeout=2,
        )
        assert last.status_code == 201
        stored = httpx.get(
            f"{url}/api/v1/recordings/{recording}/annotations", headers=headers
        ).json()
        stored_ids = {a["id"] for a in stored}
        assert set(acknowledged) <= stored_ids
        assert len({a["version"] for a in stored}) == 1
