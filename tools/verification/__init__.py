"""Fault and hostile-input verification: scenarios that inject a fault into real processes and check afterwards that
nothing was lost, nothing doubled and nothing crossed tenants. Used by the integration tests and `orderinfo verify`."""
