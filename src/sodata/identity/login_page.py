"""The sign-in page of the authorization code grant: an email and password form, served from
the package (no CDN)."""

from __future__ import annotations

from html import escape

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to {realm}</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f3f5f8;display:flex;justify-content:center;margin:0;padding-top:10vh}}
main{{background:#fff;padding:2rem 2.5rem;border-radius:8px;box-shadow:0 2px 12px #0002;width:20rem}}
h1{{font-size:1.3rem;margin:0 0 1.2rem}} label{{display:block;margin:.8rem 0 .3rem;font-size:.9rem}}
input[type=email],input[type=password]{{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #bbb;border-radius:4px}}
button{{margin-top:1.3rem;width:100%;padding:.6rem;background:#0b5cad;color:#fff;border:0;border-radius:4px;font-size:1rem}}
.error{{background:#fde8e8;color:#8a1c1c;padding:.6rem;border-radius:4px;font-size:.9rem}}
</style></head>
<body><main>
<h1>Sign in to {realm}</h1>
{error}
<form method="post" action="{action}">
{hidden}
<label for="username">Email</label><input id="username" name="username" type="email" autocomplete="username" value="{username}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main></body></html>
"""

_ERROR_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family:system-ui,sans-serif;padding:2rem"><h1>{title}</h1><p>{message}</p></body></html>
"""


def sign_in_page(
    realm: str, action: str, params: dict[str, str], username: str = "", error: str | None = None
) -> str:
    hidden = "\n".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items()
    )
    return _PAGE.format(
        realm=escape(realm),
        action=escape(action),
        hidden=hidden,
        username=escape(username),
        error=f'<p class="error" role="alert">{escape(error)}</p>' if error else "",
    )


def message_page(title: str, message: str) -> str:
    return _ERROR_PAGE.format(title=escape(title), message=escape(message))
