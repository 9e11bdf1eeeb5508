"""Shared helpers of the platform's HTTP routes (public API, H5 pages, portal).

- `http`: JSON answers and errors, size-limited JSON bodies, client address;
- `ratelimit`: in-process rate limits per client address, elevator, ...;
- `text`: validation and normalisation of typed text, HTML escaping;
- `origin`: a clean JSON 403 for requests trytond refuses before dispatch
  (a foreign `Origin`); phone masking lives in `elevator.privacy`.
"""
