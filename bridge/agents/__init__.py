"""Batch agents: phone, email, phone-email and deep-research runs over 1-1,000 records, executed
on the workers in chunks, with results and a credits report in object storage."""
