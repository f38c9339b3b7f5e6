"""The product on one machine: the mTLS edge (API Gateway's stand-in), the stack, a stand-in node service, the demo."""
