"""The status pages: a small read-only view of the network for people, at `/` of the API.

Server-rendered HTML (Flask templates in `templates/pages/`, one stylesheet in
`static/`), no build step, no script: `views` has the routes, `session` the login that
stands in for the bearer token when `API_TOKEN` is set.
"""

from api.pages.views import bp

__all__ = ["bp"]
