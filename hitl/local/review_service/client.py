"""The review API as the review app calls it (bearer token, JSON bodies), for the demo's simulated
reviewer and the tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

TIMEOUT_SECONDS = 10
ANSWER_FIELDS = ("answerContent", "acceptanceTime", "timeSpentInSeconds")


class ReviewApiError(RuntimeError):
    """The API refused a call; `status` is its HTTP status, the message its `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class ReviewApiClient:
    """One signed-in reviewer's calls to the review API at `api_url`."""

    def __init__(self, api_url: str, token: str, session: requests.Session | None = None) -> None:
        self._base = api_url.rstrip("/")
        self._http = session or requests.Session()
        self._headers = {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(
            method, self._base + path, headers=self._headers, timeout=TIMEOUT_SECONDS, **kwargs
        )
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:300]}
        if response.status_code >= 400:
            raise ReviewApiError(response.status_code, str(body.get("message", body)))
        return body

    def tasks(self, status: str = "InProgress") -> list[dict[str, Any]]:
        """Every task in `status` (all pages), as the list shows them."""
        tasks: list[dict[str, Any]] = []
        params: dict[str, str] = {"status": status}
        while True:
            page = self._call("GET", "/tasks", params=params)
            tasks += page["tasks"]
            if not page.get("nextToken"):
                return tasks
            params["nextToken"] = page["nextToken"]

    def task(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/tasks/{quote(name, safe='')}")

    def claim(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/tasks/{quote(name, safe='')}/claim")

    def release(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/tasks/{quote(name, safe='')}/release")

    def answer(self, name: str, submission: dict[str, Any]) -> dict[str, Any]:
        """Submit an answer (only the fields the API takes are sent)."""
        body = {key: submission[key] for key in ANSWER_FIELDS if key in submission}
        return self._call("POST", f"/tasks/{quote(name, safe='')}/answer", json=body)

    def stop(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/tasks/{quote(name, safe='')}/stop")
