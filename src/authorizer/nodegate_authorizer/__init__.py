"""nodegate authorizer: certificate path, revocation, identity and policy decisions."""
