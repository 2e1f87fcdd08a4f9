"""The services `make run` starts, in order; the gateway last, once its backends listen."""
SERVICES = [
    ("registry", "services.registry.service:RegistryService"),
    ("gateway", "gateway.service:GatewayService"),
]
