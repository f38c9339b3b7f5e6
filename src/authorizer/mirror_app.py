"""CRL mirror entry point (Handler: mirror_app.lambda_handler); it shares the authorizer's package."""

from nodegate_authorizer.mirror_handler import lambda_handler

__all__ = ["lambda_handler"]
