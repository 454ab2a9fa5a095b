from tests.integration.ingest.conftest import tenant_id

__all__ = ["tenant_id"]
