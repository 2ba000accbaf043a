"""Several app processes: `autoconf serve --workers N` behind one port, and what they must
share (metrics) or tell each other (access taken back)."""

import json
from pathlib import Path

import httpx2 as httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import cli, start_server, stop_server, wait_for

TOKEN = "m" * 32


def test_serve_with_two_workers_shares_one_port_and_one_set_of_metrics(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "migrate")
    env = {
        "AUTOCONF_LOG_FORMAT": "json",
        "AUTOCONF_LOG_LEVEL": "info",
        "AUTOCONF_METRICS_TOKEN": TOKEN,
        "AUTOCONF_MEDIA_WORKERS": "0",
    }
    server = start_server(data, env, args=("--workers", "2"))
    try:
        for _ in range(60):
            assert httpx.get(f"{server.url}/healthz").status_code == 200

        def access_lines() -> list[dict] | None:
            lines = [
                json.loads(line)
                for line in server.log.read_text().splitlines()
                if line.startswith("{")
            ]
            found = [line for line in lines if line.get("path") == "/healthz"]
            return found if len(found) == 60 else None

        lines = wait_for(access_lines, 10, "60 access lines")
        assert {line["status"] for line in lines} == {200}
        pids = {line["pid"] for line in lines}
        assert len(pids) == 2, pids  # both processes answered
        scrape = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scrape.status_code == 200
        counted = {
            (sample.name, sample.labels.get("route"), sample.labels.get("status")): sample.value
            for family in text_string_to_metric_families(scrape.text)
            for sample in family.samples
        }
        # Whichever process answered the scrape, it counts the other's requests too.
        assert counted[("autoconf_http_requests_total", "/healthz", "200")] == 60
    finally:
        stop_server(server)
    assert server.process.returncode == 0
