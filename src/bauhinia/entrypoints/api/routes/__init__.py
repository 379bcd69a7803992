"""One router per resource; every module here that defines `router` is mounted under /v1 by create_app."""
