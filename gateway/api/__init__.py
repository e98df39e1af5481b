"""The ``/v1`` REST API: auth middleware, problem+json errors, document and inbox handlers."""

from gateway.api.auth import Principal, auth_middleware, require
from gateway.api.problems import Problem, problem_middleware
from gateway.api.routes import setup_routes

__all__ = [
    "Principal",
    "Problem",
    "auth_middleware",
    "problem_middleware",
    "require",
    "setup_routes",
]
