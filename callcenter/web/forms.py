"""Page forms that post, then redirect (the post/redirect/get pattern every page shares)."""
from __future__ import annotations

from callcenter.web.errors import error_payload


async def post_redirect(request, action, *, done_url: bytes, show_error):
    """Run a form's ``action()``: 303 to ``done_url`` when it worked, so a reload does not post
    again; when it was refused with an error that has an ``error_id`` (a feature's or the API's),
    ``show_error(body, status)`` renders the page with the message.  Anything else propagates (500)."""
    try:
        await action()
    except Exception as exc:  # noqa: BLE001 - refusals are shown on the page
        if not hasattr(exc, "error_id"):
            raise
        status, body = error_payload(exc)
        return await show_error(body, status)
    request.redirect(done_url)
    request.setResponseCode(303)
    return b""


def page_forms(path: str, render):
    """The form runner of one page: ``form(request, principal, action, done)`` runs ``action()``,
    then 303 to ``path?done=<done>``; a refusal is ``render(request, principal, error=…, status=…)``
    (the page with the message)."""

    def form(request, principal, action, done: str):
        return post_redirect(request, action, done_url=f"{path}?done={done}".encode("ascii"),
                             show_error=lambda body, code: render(request, principal, error=body, status=code))

    return form
