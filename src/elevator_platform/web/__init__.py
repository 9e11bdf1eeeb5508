"Shared helpers of the platform's HTTP routes (public API, H5 pages, portal)."
