"""Dead letters: tasks that exhausted their retries, kept for an operator to replay."""
