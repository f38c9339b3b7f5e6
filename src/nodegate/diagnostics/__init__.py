"""Why a certificate is allowed or denied: the authorizer's own decision, step by step."""
