from ..services import webhooks_out


def webhook_endpoint_drain(endpoint_id: int) -> int:
    return webhooks_out.webhook_endpoint_drain(endpoint_id=endpoint_id)


def webhooks_sweep() -> int:
    return webhooks_out.webhooks_sweep()
