"""The host system's door (/api/v1/): DRF views over the same services and selectors the pages
use, authenticated by API keys, every lookup scoped to what the key reaches (404 outside)."""
