"""Shared helpers of the platform's HTTP routes (public API, H5 pages, portal).

- `http`: JSON answers and errors, size-limited JSON bodies, client address;
- `ratelimit`: in-process rate limits per client address, elevator, ...;
- `text`: validation and normalisation of typed text, HTML escaping,
  phone masking.
"""
