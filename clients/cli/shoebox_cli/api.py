"""HTTP client for the Shoebox API: one method per route, failures raised as typed errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx

DEFAULT_API_URL = "http://127.0.0.1:3000"

Image = dict[str, Any]


class ShoeboxError(Exception):
    """Anything the CLI reports instead of a traceback."""


class ApiError(ShoeboxError):
    """The API answered with an error body: {"error": {"code", "message", "details"}}."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after  # seconds, from a 429's Retry-After


class AuthError(ApiError):
    """401: the token is missing, expired or not accepted."""


class NotFoundError(ApiError):
    """404: no such image, or not the caller's (the API does not say which)."""


class Unreachable(ShoeboxError):
    """No HTTP answer at all: wrong URL, stack not running, network down."""


class TimedOut(ShoeboxError):
    """An image did not reach a final status in time."""


class Interrupted(ShoeboxError):
    """A big upload stopped part-way; what S3 has is kept, and the same command resumes it."""


def _error_from(response: httpx.Response) -> ApiError:
    code, message = f"HTTP_{response.status_code}", response.reason_phrase
    details: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    elif isinstance(body, dict) and "message" in body:  # API Gateway's own bodies
        message = str(body["message"])
    kind = {401: AuthError, 404: NotFoundError}.get(response.status_code, ApiError)
    retry_after = response.headers.get("retry-after", "")
    return kind(
        response.status_code, code, message, details, float(retry_after) if retry_after.isdigit() else None
    )


def subject_of(token: str | None) -> str:
    """The token's `sub`, read without checking the signature (the API checks it): whose upload
    state a saved slot is."""
    try:
        payload = (token or "").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    return str(claims.get("sub", "")) if isinstance(claims, dict) else ""


class ShoeboxClient:
    """The API at `api_url`, called with `token` (a JWT) when one is given.

    Redirects are never followed with this client: the only one (GET …/content) goes to S3,
    which must not receive our Authorization header.
    """

    def __init__(self, api_url: str, token: str | None, timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.subject = subject_of(token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.api_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ShoeboxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the API at {self.api_url}: {exc}") from exc
        if response.is_error:
            raise _error_from(response)
        return response

    # ------------------------------------------------------------ routes

    def health(self) -> dict[str, Any]:
        return dict(self._request("GET", "/v1/health").json())

    def local_token(self, sub: str) -> str:
        """A dev token from the local stack's gateway (the deployed API has no such route)."""
        response = self._request("POST", "/_local/token", json={"sub": sub})
        return str(response.json()["token"])

    def create_upload(
        self,
        filename: str,
        content_type: str,
        size: int,
        method: str = "POST",
        sha256: str | None = None,
    ) -> dict[str, Any]:
        """201 {"image", "upload"}; or, for bytes the caller has READY, 200 {"image", "duplicate"}."""
        body: dict[str, Any] = {"filename": filename, "content_type": content_type, "size": size}
        body["method"] = method
        if sha256 is not None:
            body["sha256"] = sha256
        return dict(self._request("POST", "/v1/uploads", json=body).json())

    def get_upload(self, image_id: str) -> dict[str, Any]:
        """A PENDING upload: {"image", "received": [{"number", "size", "etag"}], "upload"}."""
        return dict(self._request("GET", f"/v1/uploads/{image_id}").json())

    def complete_upload(self, image_id: str, parts: list[dict[str, Any]]) -> Image:
        return dict(self._request("POST", f"/v1/uploads/{image_id}/complete", json={"parts": parts}).json())

    def cancel_upload(self, image_id: str) -> None:
        self._request("DELETE", f"/v1/uploads/{image_id}")

    def usage(self) -> dict[str, Any]:
        return dict(self._request("GET", "/v1/usage").json())

    def list_images(
        self, limit: int = 20, cursor: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if status:
            params["status"] = status
        return dict(self._request("GET", "/v1/images", params=params).json())

    def iter_images(self, limit: int | None, status: str | None = None) -> Iterator[Image]:
        """Newest first, following cursors; at most `limit` images (None: all of them)."""
        cursor: str | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            page_size = 100 if remaining is None else min(remaining, 100)
            page = self.list_images(page_size, cursor, status)
            yield from page["items"][:page_size]
            if remaining is not None:
                remaining -= len(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def images_by_ids(self, ids: list[str]) -> list[Image]:
        """The caller's images among `ids` (at most 100), in one request: unknown ids are left out."""
        response = self._request("GET", "/v1/images", params={"ids": ",".join(ids)})
        return list(response.json()["items"])

    def get_image(self, image_id: str) -> Image:
        return dict(self._request("GET", f"/v1/images/{image_id}").json())

    def content_url(self, image_id: str, variant: str = "original") -> str:
        """Where the bytes are: the presigned S3 URL that …/content redirects to."""
        response = self._request("GET", f"/v1/images/{image_id}/content", params={"variant": variant})
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            raise ApiError(response.status_code, "NO_REDIRECT", "the API did not redirect to the content")
        return str(location)

    def delete_image(self, image_id: str) -> None:
        self._request("DELETE", f"/v1/images/{image_id}")

    def create_share(self, image_id: str, expires_in: int | None) -> dict[str, Any]:
        """A share link: {"id", "image_id", "url", "created_at", "expires_at"}."""
        response = self._request("POST", f"/v1/images/{image_id}/shares", json={"expires_in": expires_in})
        return dict(response.json()["share"])

    def list_shares(self, image_id: str) -> list[dict[str, Any]]:
        """The image's live links, newest first."""
        return list(self._request("GET", f"/v1/images/{image_id}/shares").json()["items"])

    def delete_share(self, share_id: str) -> None:
        self._request("DELETE", f"/v1/shares/{share_id}")
