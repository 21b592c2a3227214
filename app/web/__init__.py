"""The web workspace (工作台): server-rendered pages for people, over the same services as the API.

Pieces every page uses, one module each: `auth` (the session cookie and the signed-in
`WebUser`, whose `principal` is what the API's services check), `csrf` (the anti-forgery token
every POST form carries), `forms` (form fields to the API's request bodies, and Pydantic's
errors back to Chinese messages beside each field), `templating` (Jinja2, the navigation, the
display filters). `pages/` holds the routers, one module per group of pages; `router.install`
mounts them, the static files (app/web/static: no CDN, no build step) and the HTML error pages.
"""
