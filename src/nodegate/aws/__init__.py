"""What talks to a deployed stack on AWS: publishing a truststore."""
