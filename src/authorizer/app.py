"""Lambda entry point (Handler: app.lambda_handler). The logic lives in the nodegate_authorizer package; the
SnapStart runtime hooks are registered here, where the handler module is loaded."""

from nodegate_authorizer import snapstart
from nodegate_authorizer.handler import lambda_handler

snapstart.register()

__all__ = ["lambda_handler"]
