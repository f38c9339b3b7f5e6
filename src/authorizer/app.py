"""Lambda entry point (Handler: app.lambda_handler). The logic lives in the nodegate_authorizer package."""

from nodegate_authorizer.handler import lambda_handler

__all__ = ["lambda_handler"]
